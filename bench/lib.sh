# bench/lib.sh - shared helpers for the benchmark scripts (sourced).
#   bench_record FILE key=value ...   append one JSON line with machine facts
#   median v1 v2 ...                  median of numbers
#   timed_run OUTVAR cmd...           run cmd, set OUTVAR="seconds maxrss_kb"
set -euo pipefail
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_ROOT/.." && pwd)
PY=/usr/bin/python3   # Debian's peers load only in the system interpreter
mkdir -p "$BENCH_ROOT/results"
GIT_REV=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU_MODEL=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')

bench_record() {
  local file=$1
  shift
  "$PY" - "$file" "$GIT_REV" "$CPU_MODEL" "${OPENBLAS_CORETYPE:-}" "$@" <<'PY'
import json, sys, time
path, rev, cpu, blas = sys.argv[1:5]
rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": rev, "cpu": cpu,
       "openblas_coretype": blas}
for kv in sys.argv[5:]:
    k, _, v = kv.partition("=")
    try:
        rec[k] = int(v)
    except ValueError:
        try:
            rec[k] = float(v)
        except ValueError:
            rec[k] = v
with open(path, "a") as f:
    f.write(json.dumps(rec) + "\n")
PY
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

timed_run() {
  local __var=$1
  shift
  local tf
  tf=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$tf" "$@" >/dev/null 2>"$tf.err" || { cat "$tf.err" >&2; rm -f "$tf" "$tf.err"; return 1; }
  printf -v "$__var" '%s' "$(tail -1 "$tf")"
  rm -f "$tf" "$tf.err"
}
