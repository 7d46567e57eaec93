# lib.sh - helpers for black-box tests of the junco binary (TAP output).
#
# A test script sources this file, calls the check functions, and ends with
# `finish`. Each check prints "ok N - what" or "not ok N - what" (TAP);
# scripts/run-tests counts those lines. Environment (set by ctest):
#   JUNCO       path of the junco binary
#   JC_SRC      source tree
#   JC_TEST_TMP scratch root; each script gets its own directory $T
set -u
: "${JUNCO:?JUNCO must point at the junco binary}"
: "${JC_SRC:?JC_SRC must point at the source tree}"
T="${JC_TEST_TMP:-/tmp}/cli-$(basename "$0" .sh)-$$"
rm -rf "$T" && mkdir -p "$T"
N=0
FAILED=0
OUT="$T/.out"
ERR="$T/.err"

_result() { # status description
  N=$((N + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $N - $2"
  else
    echo "not ok $N - $2"
    FAILED=$((FAILED + 1))
    if [ -s "$OUT" ]; then echo "# stdout:"; head -c 2000 "$OUT" | sed 's/^/#   /'; fi
    if [ -s "$ERR" ]; then echo "# stderr:"; head -c 2000 "$ERR" | sed 's/^/#   /'; fi
  fi
}

# run EXPECTED_EXIT description -- command...   (stdout -> $OUT, stderr -> $ERR)
run() {
  local want=$1 what=$2
  shift 3
  "$@" >"$OUT" 2>"$ERR"
  local got=$?
  if [ "$got" -eq "$want" ]; then _result 0 "$what"; else
    echo "# exit status $got, expected $want"; _result 1 "$what"; fi
}

# check description -- shell condition (evaluated with bash)
check() {
  local what=$1
  shift 2
  if eval "$@"; then _result 0 "$what"; else echo "# failed: $*"; _result 1 "$what"; fi
}

# json_get FILE EXPR: print a value from a JSON file with python3 (stdlib only)
json_get() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

finish() {
  echo "1..$N"
  rm -rf "$T"
  [ "$FAILED" -eq 0 ]
}
