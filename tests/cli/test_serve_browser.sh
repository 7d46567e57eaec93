#!/usr/bin/env bash
# Browser test of the web UI (tests/browser/test_ui.py): headless Chromium
# against `junco serve`; screenshots go to <build>/artifacts/browser/.
set -u
: "${JUNCO:?JUNCO must point at the junco binary}"
: "${JC_SRC:?JC_SRC must point at the source tree}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$JC_SRC/tests/browser/test_ui.py"
