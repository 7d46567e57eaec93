#!/usr/bin/env bash
# Black-box tests of `junco eval` and `junco ab report`: usage errors, a
# small leaderboard on ml-latest-small (split checksum, determinism across
# thread counts, the sampled protocol's labels), report.html checked by
# tests/python/check_html.py, exported splits, and A/B reports from events
# in the event log (counts, attribution, SRM flag).
. "$(dirname "$0")/lib.sh"
H="$T/home"
ML="$JC_SRC/data/ml-latest-small"
CHECK_HTML="$JC_SRC/tests/python/check_html.py"

run 0 "import ml-latest-small" -- "$JUNCO" --home "$H" -q import "$ML"
run 0 "eval --help" -- "$JUNCO" eval --help
check "help names the sampled protocol" -- 'grep -q "loo-sampled  SAMPLED ranking" $OUT'
run 2 "unknown protocol" -- "$JUNCO" --home "$H" eval --protocol weekly
check "names it" -- 'grep -q "unknown protocol .weekly." $ERR'
run 2 "cut-offs not ascending" -- "$JUNCO" --home "$H" eval --k 20,10
run 2 "--scores without --split" -- "$JUNCO" --home "$H" eval --scores x.f32
run 1 "unknown model" -- "$JUNCO" --home "$H" eval --model popularity,deepthought --protocol random
check "says which" -- 'grep -q "unknown model .deepthought." $ERR'
run 1 "no catalog" -- "$JUNCO" --home "$T/empty" eval --protocol random --model popularity

# A small leaderboard: random (full ranking) and loo-sampled.
EV=(eval --protocol random,loo-sampled --model popularity,itemknn --space itemknn.k=50,100
    --space itemknn.shrink=10 --budget 2)
run 0 "leaderboard, 1 thread" -- "$JUNCO" --home "$H" "${EV[@]}" --threads 1 --report "$T/rep"
cp "$OUT" "$T/lb1.txt"
check "random split checksum is stable" -- 'grep -q "checksum ce929f21c2f40ee8 seed 42: train 80592, valid 10122, test 10122" $T/lb1.txt'
check "sampled protocol labelled" -- 'grep -q "SAMPLED: each held-out item ranked against 99 sampled negatives" $T/lb1.txt'
check "popularity ndcg@10 = 0.1187 on random" -- 'grep -E "^ +popularity +- +0\.1187 " $T/lb1.txt | head -1 | grep -q .'
check "itemknn beats popularity on random" -- 'awk "/\[random\]/{r=1} /\[loo-sampled\]/{r=0} r&&\$1==\"popularity\"{p=\$3} r&&\$1==\"itemknn\"{k=\$4} END{exit !(k>p)}" $T/lb1.txt'
run 0 "leaderboard, 2 threads" -- "$JUNCO" --home "$H" "${EV[@]}" --threads 2 --no-report
check "same numbers with 2 threads" -- 'cmp -s $T/lb1.txt $OUT'
run 0 "report is well-formed and self-contained" -- /usr/bin/python3 "$CHECK_HTML" "$T/rep"
check "results.json names both protocols" -- '[ "$(json_get $T/rep/results.json "[p[\"name\"] for p in d[\"protocols\"]]")" = "['"'"'random'"'"', '"'"'loo-sampled'"'"']" ]'
check "sampled flag set only on loo-sampled" -- '[ "$(json_get $T/rep/results.json "[p[\"sampled\"] for p in d[\"protocols\"]]")" = "[False, True]" ]'
check "itemknn tried 2 parameter sets" -- '[ "$(json_get $T/rep/results.json "len(d[\"protocols\"][0][\"models\"][1][\"trials\"])")" = 2 ]'
check "sampled HR@10 above full-ranking HR@10" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); f=d[\"protocols\"][0][\"models\"][0][\"test\"][\"metrics\"][\"hit@10\"]; s=d[\"protocols\"][1][\"models\"][0][\"test\"][\"metrics\"][\"hit@10\"]; sys.exit(0 if s>f else 1)" $T/rep/results.json'
run 0 "json output" -- "$JUNCO" --home "$H" eval --protocol temporal --model popularity --no-report --json --k 10
check "temporal counts cold users" -- 'python3 -c "import json,sys; d=json.load(sys.stdin); t=d[\"protocols\"][0][\"models\"][0][\"test\"]; sys.exit(0 if t[\"cold_users_skipped\"]>0 and t[\"users\"]>0 else 1)" < $OUT'

# Exported split: manifest with SHA-256 that matches the files.
run 0 "export a split" -- "$JUNCO" --home "$H" eval --export "$T/x" --protocol loo
check "manifest digests match" -- 'python3 -c "import hashlib,json,sys,os; d=sys.argv[1]; m=json.load(open(d+\"/manifest.json\")); sys.exit(0 if all(hashlib.sha256(open(os.path.join(d,f),\"rb\").read()).hexdigest()==v[\"sha256\"] for f,v in m[\"files\"].items()) else 1)" $T/x'
check "loo test has one event per user" -- '[ "$(json_get $T/x/manifest.json "d[\"rows\"][\"test\"]")" = 610 ]'
run 2 "--export needs one protocol" -- "$JUNCO" --home "$H" eval --export "$T/y" --protocol random,loo

# A/B report from counts.
run 0 "ab report --counts" -- "$JUNCO" ab report --counts a:10000:500:5000,b:10000:560:5100
check "lift +12.00% and p 0.05826" -- 'grep -E "^b .* \+12\.00% +1\.894 +0\.05826" $OUT | grep -q .'
check "SRM ok" -- 'grep -q "p = 0.3197: ok" $OUT'
run 2 "ab report needs the subcommand" -- "$JUNCO" ab
run 1 "clicks above exposures" -- "$JUNCO" ab report --counts a:10:20,b:10:1
check "explains" -- 'grep -q "variant .a. has 20 clicks for 10 exposures" $ERR'

# A/B report from the event log: 1000 users, variant by parity, 10% vs 12%
# clicks; then a broken bucketing run where one variant gets 60% of users.
python3 - "$T/ab.jsonl" "$T/srm.jsonl" <<'PY'
import json, sys
def gen(path, share_b):
    with open(path, "w") as f:
        t = 1000
        for u in range(2000):
            v = "b" if (u * 7919 % 1000) < share_b * 1000 else "a"
            for k in range(5):
                t += 1
                f.write(json.dumps({"user": "u%d" % u, "item": "i%d" % k, "type": "exposure",
                                    "experiment": "rank", "variant": v, "time_ms": t}) + "\n")
                clicks = (k == 0) or (v == "b" and k == 1 and u % 10 == 0)
                if clicks:
                    # clicks carry no variant: credited through the exposure
                    f.write(json.dumps({"user": "u%d" % u, "item": "i%d" % k, "type": "click",
                                        "experiment": "rank", "time_ms": t}) + "\n")
gen(sys.argv[1], 0.5)
gen(sys.argv[2], 0.6)
PY
run 0 "append exposures and clicks" -- "$JUNCO" --home "$T/ab" events append "$T/ab.jsonl"
run 0 "ab report from the log" -- "$JUNCO" --home "$T/ab" ab report --json
cp "$OUT" "$T/ab.json"
check "users split 1000/1000" -- '[ "$(json_get $T/ab.json "[v[\"users\"] for v in d[\"variants\"]]")" = "[1000, 1000]" ]'
check "exposures 5000/5000" -- '[ "$(json_get $T/ab.json "[v[\"exposures\"] for v in d[\"variants\"]]")" = "[5000, 5000]" ]'
check "clicks 1000/1100 (attributed via exposures)" -- '[ "$(json_get $T/ab.json "[v[\"clicks\"] for v in d[\"variants\"]]")" = "[1000, 1100]" ]'
check "no SRM" -- '[ "$(json_get $T/ab.json "d[\"srm\"][\"flag\"]")" = False ]'
run 0 "append a broken bucketing run" -- "$JUNCO" --home "$T/srm" events append "$T/srm.jsonl"
run 0 "ab report flags SRM" -- "$JUNCO" --home "$T/srm" ab report
check "SRM DETECTED" -- 'grep -q "SRM DETECTED" $OUT'
run 1 "no experiment in an empty log" -- "$JUNCO" --home "$T/none" ab report
finish
