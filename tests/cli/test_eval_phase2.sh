#!/usr/bin/env bash
# Black-box tests of evaluation phase 2 on a small synthetic home: ranking
# models and the serving pipeline in the top-N leaderboard, the CTR table,
# report.html still well-formed; `junco ab report` over several experiment
# layers (exact counts); `junco eval --replay` on a seeded uniform-random
# log with a known CTR, and on a log that is not randomised (flagged).
. "$(dirname "$0")/lib.sh"
H="$T/home"
CHECK_HTML="$JC_SRC/tests/python/check_html.py"

run 0 "synthetic data" -- "$JUNCO" -q synth "$T/s" --users 120 --items 200 --interactions 6000
run 0 "import it" -- "$JUNCO" --home "$H" -q import "$T/s"

# Deep models and the pipeline next to a baseline; the CTR protocol.
run 0 "leaderboard with ranking models and the pipeline" -- "$JUNCO" --home "$H" -q eval \
    --protocol temporal,loo,loo-sampled --model popularity,twotower,deepfm,pipeline \
    --space twotower.epochs=2 --space deepfm.epochs=2 --ctr deepfm,lr --ctr-epochs 2 \
    --threads 2 --report "$T/rep"
cp "$OUT" "$T/lb.txt"
check "deepfm row on temporal" -- 'awk "/\[temporal\]/{r=1} /\[loo\]/{r=0} r&&\$1==\"deepfm\"{f=1} END{exit !f}" $T/lb.txt'
check "pipeline row on loo" -- 'awk "/\[loo\]/{r=1} /\[loo-sampled\]/{r=0} r&&\$1==\"pipeline\"&&\$2!=\"failed:\"{f=1} END{exit !f}" $T/lb.txt'
check "pipeline not supported under sampled ranking" -- 'grep -q "pipeline     failed: not supported: sampled ranking" $T/lb.txt'
check "CTR table printed" -- 'grep -q "== CTR protocol" $T/lb.txt'
run 0 "report is well-formed and self-contained" -- /usr/bin/python3 "$CHECK_HTML" "$T/rep"
check "report.html has the CTR table" -- 'grep -q "CTR protocol: ranking models on the temporal split" $T/rep/report.html'
check "results.json: ctr has deepfm and lr with AUC in (0.5, 1]" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d[\"ctr\"]; sys.exit(0 if [x[\"model\"] for x in c]==[\"deepfm\",\"lr\"] and all(0.5<x[\"auc\"]<=1 for x in c) else 1)" $T/rep/results.json'
check "results.json: ndcg@10 > 0 on loo for the deep models and the pipeline" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); p=[p for p in d[\"protocols\"] if p[\"name\"]==\"loo\"][0]; v={m[\"model\"]:m[\"test\"][\"metrics\"][\"ndcg@10\"] for m in p[\"models\"] if \"test\" in m}; sys.exit(0 if all(v[k]>0 for k in (\"twotower\",\"deepfm\",\"pipeline\")) else 1)" $T/rep/results.json'
run 1 "CTR protocol rejects a baseline" -- "$JUNCO" --home "$H" -q eval --protocol temporal --model popularity --ctr ease --no-report
check "names it" -- 'grep -q "is not a ranking model" $ERR'

# Experiment layers: exposures carry every layer's assignment.
python3 - "$T/layers.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    t = 1000
    for u in range(300):
        rank = "a" if u % 2 == 0 else "b"
        recall = "x" if u % 3 == 0 else "y"
        for k in range(2):
            t += 1
            f.write(json.dumps({"user": "u%d" % u, "item": "i%d" % k, "type": "exposure",
                                "experiment": "rank", "variant": rank, "time_ms": t,
                                "context": {"pos": k + 1, "n": 2,
                                            "ab": {"rank": rank, "recall": recall}}}) + "\n")
        if u % 5 == 0:  # clicks carry only the first layer
            f.write(json.dumps({"user": "u%d" % u, "item": "i0", "type": "click",
                                "experiment": "rank", "time_ms": t}) + "\n")
PY
run 0 "append layered exposures" -- "$JUNCO" --home "$T/ab" -q events append "$T/layers.jsonl"
run 0 "ab report over every layer" -- "$JUNCO" --home "$T/ab" ab report --json
cp "$OUT" "$T/layers.json"
check "two experiments reported" -- '[ "$(json_get $T/layers.json "[e[\"experiment\"] for e in d]")" = "['"'"'rank'"'"', '"'"'recall'"'"']" ]'
check "rank: users 150/150, exposures 300/300, clicks 30/30" -- '[ "$(json_get $T/layers.json "[(v[\"users\"],v[\"exposures\"],v[\"clicks\"]) for v in d[0][\"variants\"]]")" = "[(150, 300, 30), (150, 300, 30)]" ]'
check "recall: users 100/200, exposures 200/400, clicks 20/40" -- '[ "$(json_get $T/layers.json "[(v[\"users\"],v[\"exposures\"],v[\"clicks\"]) for v in d[1][\"variants\"]]")" = "[(100, 200, 20), (200, 400, 40)]" ]'
run 0 "one layer with --experiment" -- "$JUNCO" --home "$T/ab" ab report --experiment recall
check "text names the layer" -- 'grep -q "experiment recall: 2 variants" $OUT'

# Replay: a uniform-random log (slates of 5 from the 200 items, every item
# clicked with probability 0.2) -> both policies' CTR is 0.2.
python3 - "$T/s/movies.csv" "$T/replay.jsonl" "$T/plain.jsonl" <<'PY'
import csv, json, random, sys
items = [r["movieId"] for r in csv.DictReader(open(sys.argv[1]))]
rng = random.Random(7)
def gen(path, variant, prop):
    with open(path, "w") as f:
        t = 2000000000000
        for s in range(6000):
            u = str(1 + s % 120)
            t += 1000
            shown = rng.sample(items, 5)
            for k, it in enumerate(shown):
                ctx = {"pos": k + 1, "n": 5}
                if prop:
                    ctx["propensity"] = 5.0 / len(items)
                f.write(json.dumps({"user": u, "item": it, "type": "exposure", "time_ms": t,
                                    "request_id": "r%d" % s, "experiment": "explore",
                                    "variant": variant, "context": ctx}) + "\n")
            for it in shown:
                if rng.random() < 0.2:
                    f.write(json.dumps({"user": u, "item": it, "type": "click",
                                        "time_ms": t + 1}) + "\n")
gen(sys.argv[2], "uniform", False)
gen(sys.argv[3], "ranked", False)
PY
cp -r "$H" "$T/h2"
run 0 "append the uniform-random log" -- "$JUNCO" --home "$H" -q events append "$T/replay.jsonl"
run 0 "replay two models" -- "$JUNCO" --home "$H" eval --replay model:popularity,model:itemknn --replay-random-variant uniform --json
cp "$OUT" "$T/rp.json"
check "randomised" -- '[ "$(json_get $T/rp.json "d[\"randomised\"]")" = True ]'
check "30000 exposures used" -- '[ "$(json_get $T/rp.json "d[\"used\"]")" = 30000 ]'
check "both CTRs within 0.06 of 0.2 with > 300 matches" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if all(abs(p[\"ctr\"]-0.2)<0.06 and p[\"matched\"]>300 for p in d[\"policies\"]) else 1)" $T/rp.json'
run 0 "replay text" -- "$JUNCO" --home "$H" eval --replay model:popularity,model:itemknn --replay-random-variant uniform
check "says rejection sampling" -- 'grep -q "rejection-sampling replay" $OUT'
run 0 "append a log that is not randomised" -- "$JUNCO" --home "$T/h2" -q events append "$T/plain.jsonl"
run 0 "replay on it" -- "$JUNCO" --home "$T/h2" eval --replay model:popularity,pipeline
check "warns that the log is not randomised" -- 'grep -q "WARNING: the log is NOT randomised" $OUT'
check "pipeline row" -- 'grep -qE "^pipeline +[0-9]+" $OUT'
printf '[serve]\nmax_n = 500\n' > "$T/b.ini"
run 0 "replay a junco.ini against the home's config" -- "$JUNCO" --home "$T/h2" eval --replay pipeline,"$T/b.ini" --json
check "both configurations estimated" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); n=[p[\"name\"] for p in d[\"policies\"]]; sys.exit(0 if n[0]==\"pipeline\" and n[1].endswith(\"/b.ini\") and all(p[\"matched\"]>0 for p in d[\"policies\"]) else 1)" $OUT'
run 1 "replay with a missing junco.ini" -- "$JUNCO" --home "$T/h2" eval --replay pipeline,"$T/nope.ini"
run 2 "replay list too long" -- "$JUNCO" --home "$H" eval --replay model:popularity --replay-n 65
run 1 "replay with an unknown model" -- "$JUNCO" --home "$H" eval --replay model:nope
check "names it" -- 'grep -q "unknown model .nope." $ERR'
finish
