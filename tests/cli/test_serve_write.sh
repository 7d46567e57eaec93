#!/usr/bin/env bash
# Black-box HTTP tests of the write endpoints of `junco serve` (events, item and
# user upserts; tests/http/test_write.py): daemons on 127.0.0.1, TAP lines.
set -u
: "${JUNCO:?JUNCO must point at the junco binary}"
: "${JC_SRC:?JC_SRC must point at the source tree}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$JC_SRC/tests/http/test_write.py"
