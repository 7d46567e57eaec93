#!/usr/bin/env bash
# Black-box HTTP tests of serving phase 2 (tests/http/test_models.py): models,
# embeddings, predictions, rules, hot reload under load, offline API parity.
set -u
: "${JUNCO:?JUNCO must point at the junco binary}"
: "${JC_SRC:?JC_SRC must point at the source tree}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$JC_SRC/tests/http/test_models.py"
