#!/usr/bin/env bash
# Black-box HTTP tests of `junco serve` A/B layers and exposure logging
# (tests/http/test_ab.py): daemons on 127.0.0.1 with ephemeral ports, TAP lines.
set -u
: "${JUNCO:?JUNCO must point at the junco binary}"
: "${JC_SRC:?JC_SRC must point at the source tree}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$JC_SRC/tests/http/test_ab.py"
