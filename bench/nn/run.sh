#!/usr/bin/env bash
# Side-by-side benchmark of junco's ranking models against PyTorch 1.13 (CPU).
#   bench/nn/run.sh BUILD_DIR [MODELS] [SEEDS]
# e.g. bench/nn/run.sh build "lr deepfm din" "1 2 3"
# Builds ml-latest-small samples in a scratch home (junco import + features),
# exports the finished rows (bench_nn export) that both sides read, then per
# model and seed trains junco and PyTorch with the same hyperparameters
# (emb 16, hidden 128,64, Adam lr 1e-3, batch 256, 1 epoch) at 1 and 2
# threads. PyTorch runs dense Adam and sparse embeddings + SparseAdam once
# per model (seed 1, 1 thread) and keeps the faster for the rest; it runs with
# OMP_WAIT_POLICY=PASSIVE (on a shared 2-core machine the default spinning
# OpenMP workers made 2-thread PyTorch up to 15x slower). Appends JSON
# lines to bench/results/nn.jsonl and prints the table (bench/nn/report.py).
set -euo pipefail
build=${1:-build}
models=${2:-"lr fm mlp widedeep neumf twotower deepfm din dcn"}
seeds=${3:-"1 2 3"}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
J="$root/$build/junco"
B="$root/$build/bench/bench_nn"
PY=/usr/bin/python3
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
out="$root/bench/results/nn.jsonl"
mkdir -p "$root/bench/results"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
EPOCHS=1 BATCH=256 LR=0.001
run_id=$(date -u +%Y%m%dT%H%M%SZ)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
blas="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"

"$J" --home "$work/h" -q import "$root/data/ml-latest-small" >/dev/null
"$J" --home "$work/h" -q features >/dev/null
"$B" export "$work/h" "$work/x" 2>/dev/null
split_sum=$(cat "$work"/x/*.u32 "$work"/x/*.f32 | sha256sum | cut -c1-16)

emit() { # json line from a side -> add run metadata
  $PY -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(run=sys.argv[2], rev=sys.argv[3], cpu=sys.argv[4], blas=sys.argv[5], dataset="ml-latest-small", protocol="ctr-temporal", split_sha256=sys.argv[6], task="nn"); print(json.dumps(d))' \
    "$1" "$run_id" "$rev" "$cpu" "$blas" "$split_sum" | tee -a "$out"
}

"$B" gemm | while read -r line; do emit "$line"; done

for m in $models; do
  # the faster PyTorch configuration for this model
  dense=$($PY "$here/torch_models.py" "$work/x" "$m" 1 1 $EPOCHS $BATCH $LR)
  sparse=$($PY "$here/torch_models.py" "$work/x" "$m" 1 1 $EPOCHS $BATCH $LR --sparse)
  emit "$dense" >/dev/null
  emit "$sparse" >/dev/null
  flag=$($PY -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print("--sparse" if b["samples_per_sec"] > a["samples_per_sec"] else "")' "$dense" "$sparse")
  for s in $seeds; do
    for t in 1 2; do
      emit "$("$B" train "$work/h" "$m" "$s" "$t" $EPOCHS $BATCH $LR)" >/dev/null
      if [ "$s" = 1 ] && [ "$t" = 1 ]; then continue; fi  # measured above
      emit "$($PY "$here/torch_models.py" "$work/x" "$m" "$s" "$t" $EPOCHS $BATCH $LR $flag)" >/dev/null
    done
  done
done
$PY "$here/report.py" "$out" "$run_id"
