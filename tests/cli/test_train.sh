#!/usr/bin/env bash
# Black-box tests of `junco train` and `junco predict` on the bundled
# MovieLens data: every run publishes a model, metrics are real (AUC floors,
# scikit-learn agreement), runs are deterministic with one thread and a
# seed, resume works, and bad inputs give clear errors.
. "$(dirname "$0")/lib.sh"
H="$T/home"
ML="$JC_SRC/data/ml-latest-small"

run 0 "import" -- "$JUNCO" --home "$H" -q import "$ML"
run 0 "features" -- "$JUNCO" --home "$H" -q features

run 0 "train lr" -- "$JUNCO" --home "$H" -q train --model lr --epochs 2 --threads 1 --seed 7 --json
cp "$OUT" "$T/lr.json"
check "lr test auc above 0.75" -- '[ "$(json_get $T/lr.json "d[\"test\"][\"auc\"] > 0.75")" = True ]'
check "lr published as version 1" -- '[ "$(json_get $T/lr.json "d[\"version\"]")" = 1 ] && [ -f "$H/models/lr/v1.jcm" ] && [ -f "$H/models/lr/LIVE" ]'
check "ROC and PR curves written" -- '[ -s "$H/reports/lr-roc.csv" ] && [ -s "$H/reports/lr-pr.csv" ] && grep -q "<svg" "$H/reports/lr-roc.svg"'

run 0 "train deepfm (2 threads)" -- "$JUNCO" --home "$H" -q train --model deepfm --epochs 1 --threads 2 --json
cp "$OUT" "$T/dfm.json"
check "deepfm beats lr on test auc" -- '[ "$(python3 -c "import json; a=json.load(open(\"$T/dfm.json\")); b=json.load(open(\"$T/lr.json\")); print(a[\"test\"][\"auc\"] > b[\"test\"][\"auc\"])")" = True ]'

run 0 "train din with dice" -- "$JUNCO" --home "$H" -q train --model din --act dice --epochs 1 --hidden 64,32 --json
cp "$OUT" "$T/din.json"
check "din test auc above 0.8" -- '[ "$(json_get $T/din.json "d[\"test\"][\"auc\"] > 0.8")" = True ]'

# determinism: one thread and one seed give the same model, byte for byte
run 0 "train lr again (same seed)" -- "$JUNCO" --home "$H" -q train --model lr --epochs 2 --threads 1 --seed 7 --name lr2
run 0 "predict with the first" -- "$JUNCO" --home "$H" -q predict --file "$H/models/lr/v1.jcm" --out "$T/a.tsv"
run 0 "predict with the second" -- "$JUNCO" --home "$H" -q predict --file "$H/models/lr2/v1.jcm" --out "$T/b.tsv"
check "bit-identical predictions" -- 'cmp -s "$T/a.tsv" "$T/b.tsv"'
# streaming from the mapped sample files gives the same model as preloading
run 0 "train lr streaming" -- "$JUNCO" --home "$H" -q train --model lr --epochs 2 --threads 1 --seed 7 --name lr3 --stream
run 0 "predict with the streamed model" -- "$JUNCO" --home "$H" -q predict --file "$H/models/lr3/v1.jcm" --out "$T/c.tsv"
check "streamed = preloaded" -- 'cmp -s "$T/a.tsv" "$T/c.tsv"'

run 0 "predict --model lr" -- "$JUNCO" --home "$H" predict --model lr --out "$T/scores.tsv" --json
cp "$OUT" "$T/pred.json"
check "one score per test row" -- '[ "$(($(wc -l < $T/scores.tsv) - 1))" = "$(json_get $T/pred.json "d[\"n\"]")" ]'
check "predict auc equals train's test auc" -- '[ "$(python3 -c "import json; a=json.load(open(\"$T/pred.json\")); b=json.load(open(\"$T/lr.json\")); print(abs(a[\"auc\"] - b[\"test\"][\"auc\"]) < 1e-12)")" = True ]'
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
  check "auc, logloss, pr-auc agree with scikit-learn to 1e-6" -- /usr/bin/python3 - "$T/scores.tsv" "$T/pred.json" <<'PY'
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, log_loss, average_precision_score
d = np.loadtxt(sys.argv[1], skiprows=1, delimiter="\t")
m = json.load(open(sys.argv[2]))
y, s = d[:, 2], d[:, 3]
ok = abs(roc_auc_score(y, s) - m["auc"]) < 1e-6 and abs(log_loss(y, s, eps=1e-15) - m["logloss"]) < 1e-6 \
    and abs(average_precision_score(y, s) - m["pr_auc"]) < 1e-6
sys.exit(0 if ok else 1)
PY
else
  echo "# scikit-learn not available: cross-check skipped"
fi

# resume from the checkpoint
run 0 "train fm 1 epoch" -- "$JUNCO" --home "$H" -q train --model fm --epochs 1 --patience 0 --no-publish
run 0 "resume fm to 2 epochs" -- "$JUNCO" --home "$H" -q train --model fm --epochs 2 --patience 0 --resume --json
check "resumed one more epoch" -- '[ "$(json_get $OUT "(d[\"resumed\"], d[\"epochs\"])")" = "(True, 2)" ]'

# corrupt model files are rejected with a clear message
cp "$H/models/lr/v1.jcm" "$T/bad.jcm"
printf '\x55' | dd of="$T/bad.jcm" bs=1 seek=3000 conv=notrunc 2>/dev/null
run 1 "corrupt model rejected" -- "$JUNCO" --home "$H" predict --file "$T/bad.jcm" --no-scores
check "error names the checksum" -- 'grep -q "checksum mismatch" $ERR'
head -c 100 "$H/models/lr/v1.jcm" > "$T/short.jcm"
run 1 "truncated model rejected" -- "$JUNCO" --home "$H" predict --file "$T/short.jcm" --no-scores

# usage errors
run 2 "unknown model" -- "$JUNCO" --home "$H" train --model xgboost
run 2 "bad hidden list" -- "$JUNCO" --home "$H" train --model mlp --hidden 12,,3
run 2 "bad dropout" -- "$JUNCO" --home "$H" train --model mlp --dropout 1.5
run 2 "predict needs a model" -- "$JUNCO" --home "$H" predict
run 1 "predict unknown registry name" -- "$JUNCO" --home "$H" predict --model nothing --no-scores
check "says nothing was published" -- 'grep -q "no model published" $ERR'
run 1 "train without samples" -- "$JUNCO" --home "$T/empty" train --model lr
run 0 "train on synthetic data" -- "$JUNCO" --home "$T/syn" -q train --model twotower --synthetic 20000 --epochs 2 --json
check "synthetic model learned" -- '[ "$(json_get $OUT "d[\"test\"][\"auc\"] > 0.62")" = True ]'
run 0 "predict synthetic" -- "$JUNCO" --home "$T/syn" predict --model twotower --synthetic 20000 --no-scores --json
finish
