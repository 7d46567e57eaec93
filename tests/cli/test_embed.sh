#!/usr/bin/env bash
# Black-box tests of `junco embed`, `junco index`, `junco similar` and
# `junco recommend-emb` on the bundled MovieLens data (ml-latest-small).
. "$(dirname "$0")/lib.sh"
H="$T/home"
ML="$JC_SRC/data/ml-latest-small"
J() { "$JUNCO" --home "$H" -q "$@"; }
# Under the sanitizers (make sanitize: a Debug build, ~50x slower) the same
# commands run with light parameters, and the quality floors, measured on the
# optimised build, are not asserted.
if [ -n "${JC_SANITIZE:-}" ]; then
  I2V="--epochs 1"; DW="--epochs 1 --walks 1 --min-count 5"; EVAL="--epochs 1 --test-frac 0.02"
  QUALITY=0
else
  I2V="--window 10 --epochs 20"; DW="--epochs 3 --walks 5 --min-count 5 --window 10"
  EVAL="--epochs 5"; QUALITY=1
fi
# quality WHAT -- CONDITION: a check that only the optimised build asserts
quality() { if [ "$QUALITY" = 1 ]; then check "$@"; fi; }

# How many of the top-10 results of a `similar --json` output are animated or
# family films (genre Animation or Children).
family_count() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for r in d["results"] if {"Animation","Children"} & set(r["genres"])))' "$1"
}

run 0 "import ml-latest-small" -- J import "$ML"

# item2vec: Toy Story's neighbours include animated/family films.
# Measured with seed 42: 7 of 10 (seeds 1-5: 5, 5, 6, 5, 5).
run 0 "embed item2vec" -- J embed --method item2vec $I2V --json
cp "$OUT" "$T/i2v.json"
check "item2vec trained 4434 items" -- '[ "$(json_get $T/i2v.json "d[\"items\"][\"trained\"]")" = 4434 ]'
check "every item but 14 has a vector" -- '[ "$(json_get $T/i2v.json "d[\"items\"][\"none\"]")" = 14 ]'
check "embedding file written" -- '[ -s "$H/embeddings/item2vec.jemb" ]'
run 0 "similar by title, item2vec" -- J similar "Toy Story (1995)" --json
cp "$OUT" "$T/sim.json"
check "query resolved to movie 1" -- '[ "$(json_get $T/sim.json "d[\"query\"][\"id\"]")" = 1 ]'
check "10 results" -- '[ "$(json_get $T/sim.json "len(d[\"results\"])")" = 10 ]'
quality ">= 4 animated/family films in item2vec top 10" -- '[ "$(family_count $T/sim.json)" -ge 4 ]'
check "Toy Story itself not returned" -- '! grep -q "\"id\":\"1\"," <<< "$(json_get $T/sim.json "d[\"results\"]")"'
run 0 "similar text output" -- J similar 1 --n 3
check "text output names the query and 3 rows" -- 'grep -q "similar to 1  Toy Story (1995)" $OUT && [ "$(wc -l < $OUT)" = 4 ]'

# DeepWalk over the transition graph. Measured with seed 42: 5 of 10.
run 0 "embed deepwalk" -- J embed --method deepwalk --name dw $DW --json
cp "$OUT" "$T/dw.json"
check "deepwalk: 2412 walks per round (nodes with >= 5 positives)" -- '[ $(( $(json_get $T/dw.json "d[\"sequences\"]") % 2412 )) = 0 ]'
run 0 "similar with deepwalk" -- J similar "Toy Story (1995)" --embedding dw --json
cp "$OUT" "$T/simdw.json"
quality ">= 3 animated/family films in deepwalk top 10" -- '[ "$(family_count $T/simdw.json)" -ge 3 ]'

# node2vec, iALS and BPR run and produce vectors.
run 0 "embed node2vec" -- J embed --method node2vec --name n2v --epochs 1 --walks 2 --p 0.5 --q 2 --min-count 5
run 0 "embed ials" -- J embed --method ials --epochs 5 --json
cp "$OUT" "$T/ials.json"
check "ials: 609 user vectors" -- '[ "$(json_get $T/ials.json "d[\"user_vectors\"]")" = 609 ]'
run 0 "embed bpr with user export" -- J embed --method bpr --epochs 5 --export "$T/bpr-items.txt" --export-users "$T/bpr-users.txt"
check "item export lines are id:64 values" -- 'head -1 $T/bpr-items.txt | python3 -c "import sys; l=sys.stdin.read().strip(); i,v=l.split(\":\"); sys.exit(0 if len(v.split())==64 and i.isdigit() else 1)"'
check "609 users exported" -- '[ "$(wc -l < $T/bpr-users.txt)" = 609 ]'

# recommend-emb excludes what the user rated (user 1 rated 232 movies).
run 0 "recommend-emb user 1 (bpr)" -- J recommend-emb 1 --embedding bpr --n 20 --json
cp "$OUT" "$T/rec.json"
check "user vector is the factor" -- '[ "$(json_get $T/rec.json "d[\"user_vector\"]")" = factor ]'
check "232 rated items excluded" -- '[ "$(json_get $T/rec.json "d[\"excluded\"]")" = 232 ]'
check "no rated movie recommended" -- python3 - "$ML/ratings.csv" "$T/rec.json" <<'PY'
import csv, json, sys
rated = {r["movieId"] for r in csv.DictReader(open(sys.argv[1])) if r["userId"] == "1"}
got = [r["id"] for r in json.load(open(sys.argv[2]))["results"]]
sys.exit(0 if len(got) == 20 and not (set(got) & rated) else 1)
PY
run 0 "recommend-emb with item2vec (mean of items)" -- J recommend-emb 1 --n 5
check "mean-of-items user vector" -- 'grep -q "user vector: mean of items" $OUT'

# ANN index: build, then similar answers through it with the exact top 10.
run 0 "index build hnsw" -- J index build --type hnsw --json
cp "$OUT" "$T/ix.json"
check "4434 vectors indexed" -- '[ "$(json_get $T/ix.json "d[\"vectors\"]")" = 4434 ]'
check "index recall@10 reported in [0, 1]" -- 'python3 -c "import json,sys; r=json.load(open(\"$T/ix.json\"))[\"recall_at_10\"]; sys.exit(0 if 0 <= r <= 1 else 1)"'
quality "index recall@10 >= 0.95" -- 'python3 -c "import json,sys; sys.exit(0 if json.load(open(\"$T/ix.json\"))[\"recall_at_10\"] >= 0.95 else 1)"'
run 0 "similar through the index" -- J similar "Toy Story (1995)" --json
cp "$OUT" "$T/simix.json"
check "search used hnsw" -- '[ "$(json_get $T/simix.json "d[\"search\"]")" = hnsw ]'
quality "hnsw top 10 equals exact top 10" -- '[ "$(json_get $T/simix.json "[r[\"id\"] for r in d[\"results\"]]")" = "$(json_get $T/sim.json "[r[\"id\"] for r in d[\"results\"]]")" ]'
run 0 "index build lsh and flat" -- bash -c "'$JUNCO' --home '$H' -q index build --type lsh && '$JUNCO' --home '$H' -q index build --type flat"
run 0 "index info" -- J index info --type flat
check "info describes the flat index" -- 'grep -q "flat index of .item2vec.: 4434 vectors" $OUT'

# --eval on the temporal split.
run 0 "embed --eval --json" -- J embed --method item2vec --name ev $EVAL --eval --json
cp "$OUT" "$T/ev.json"
quality "eval has 5566 next-item queries" -- '[ "$(json_get $T/ev.json "d[\"eval\"][\"events\"]")" = 5566 ]'
quality "next-item HR@10 in (0.02, 0.5)" -- 'python3 -c "import json,sys; e=json.load(open(\"$T/ev.json\"))[\"eval\"]; sys.exit(0 if 0.02 < e[\"hr_item\"] < 0.5 and 0 < e[\"ndcg_item\"] <= e[\"hr_item\"] else 1)"'
quality "ANN recall@10 >= 0.95" -- 'python3 -c "import json,sys; e=json.load(open(\"$T/ev.json\"))[\"eval\"]; sys.exit(0 if e[\"ann_recall\"] >= 0.95 else 1)"'

# Export to the feature store (embedded LMDB).
run 0 "embed bpr --to-store" -- J embed --method bpr --name st --epochs 2 --to-store --json
cp "$OUT" "$T/st.json"
check "every item and user vector stored" -- 'python3 -c "import json,sys; d=json.load(open(\"$T/st.json\")); i=d[\"items\"]; sys.exit(0 if d[\"stored_vectors\"] == i[\"trained\"] + i[\"cooccur\"] + i[\"genre\"] + d[\"user_vectors\"] else 1)"'
run 0 "store get item vector" -- J store get key emb:st:1
check "64 float32 = 256 bytes" -- 'grep -q "\"bytes\": *256" $OUT'
run 0 "store get user vector" -- J store get key emb:st.user:1
run 0 "store get embedding metadata" -- J store get key meta:emb:st
check "metadata names the method" -- 'grep -q "bpr" $OUT'

# Errors.
run 2 "unknown method is a usage error" -- J embed --method word2vec
check "message names the method" -- 'grep -q "word2vec" $ERR'
run 1 "missing embedding" -- J similar 1 --embedding nope
check "hint to run junco embed" -- 'grep -q "run .junco embed --name nope. first" $ERR'
run 1 "unknown item" -- J similar "No Such Movie Title 12345"
check "says no item" -- 'grep -q "no item with id or title" $ERR'
run 1 "unknown user" -- J recommend-emb nobody
cp "$H/embeddings/item2vec.jemb" "$T/good.jemb"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x10; open(p,"wb").write(b)' "$H/embeddings/item2vec.jemb"
run 1 "bit-flipped embedding" -- J similar 1
check "checksum mismatch reported" -- 'grep -q "corrupt embedding file: checksum mismatch" $ERR'
head -c 100 "$T/good.jemb" > "$H/embeddings/item2vec.jemb"
run 1 "truncated embedding" -- J similar 1
check "truncation reported" -- 'grep -q "corrupt embedding file: truncated header" $ERR'
run 2 "bad --name" -- J embed --name ../x
run 0 "embed --help" -- J embed --help
check "help lists --hogwild" -- 'grep -q -- "--hogwild" $OUT'
finish
