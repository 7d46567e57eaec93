#!/usr/bin/env bash
# Black-box test of `junco demo`: the whole pipeline on the bundled data
# (import, stats, features, publish, train DeepFM, item2vec + iALS, HNSW
# index, similar, quick evaluation), then `junco serve` on the demo's home
# answers a recommendation request.
. "$JC_SRC/tests/cli/lib.sh"
H="$T/home"
cd "$JC_SRC" || exit 1

# Under the sanitizers (a Debug build, ~50x slower) the whole pipeline takes
# ~8 minutes; every step has its own test there, so only the option handling
# of the demo itself is checked.
if [ -n "${JC_SANITIZE:-}" ]; then
  run 0 "demo --help" -- "$JUNCO" demo --help
  check "help lists --no-serve" -- 'grep -q -- "--no-serve" "$OUT"'
  run 2 "unknown demo option is a usage error" -- "$JUNCO" --home "$H" demo --bogus
  run 1 "missing data directory is a runtime error" -- "$JUNCO" --home "$T/h2" -q demo --no-serve --data "$T/nope"
  echo "# pipeline steps skipped under the sanitizers"
  finish
  exit
fi

run 0 "demo --no-serve runs every step" -- "$JUNCO" --home "$H" -q demo --no-serve
cp "$OUT" "$T/demo.out"
check "ten numbered steps are printed" -- '[ "$(grep -c "^== [0-9]*\. " "$T/demo.out")" -eq 10 ]'
check "each step prints the command it runs" -- 'grep -q "^   \$ junco train --model deepfm$" "$T/demo.out"'
check "import counts the bundled data" -- \
  'grep -q "9742 items, 610 users, 100836 interactions, 3683 tags" "$T/demo.out"'
check "catalog written" -- '[ -s "$H/catalog/catalog.jcat" ]'
check "deepfm v1 published" -- '[ -s "$H/models/deepfm/v1.jcm" ]'
auc=$(sed -n 's/^test  auc \([0-9.]*\).*/\1/p' "$T/demo.out" | tail -1)
check "deepfm test AUC above 0.80 (got ${auc:-none})" -- \
  'python3 -c "import sys; sys.exit(0 if float(\"${auc:-0}\") > 0.80 else 1)"'
check "item2vec and ials embeddings saved" -- \
  '[ -s "$H/embeddings/item2vec.jemb" ] && [ -s "$H/embeddings/ials.jemb" ]'
check "hnsw index built" -- '[ -s "$H/indexes/item2vec.hnsw.jann" ]'
check "Toy Story 2 is among Toy Story's neighbours" -- 'grep -q "Toy Story 2 (1999)" "$T/demo.out"'
check "evaluation leaderboard printed" -- 'grep -q "^   itemknn " "$T/demo.out"'
check "evaluation report written" -- '[ -s "$H/reports/eval/report.html" ] && [ -s "$H/reports/eval/results.json" ]'

run 2 "unknown demo option is a usage error" -- "$JUNCO" --home "$H" demo --bogus
run 1 "missing data directory is a runtime error" -- "$JUNCO" --home "$T/h2" -q demo --no-serve --data "$T/nope"

# The served result of the demo's home.
"$JUNCO" --home "$H" -q serve --port 0 --no-ui --access-log "" >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/serve.out" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
check "serve on the demo home starts" -- '[ -n "$url" ]'
run 0 "recommendations for user 1" -- python3 -c \
  'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' \
  "$url/api/v1/users/1/recommendations?n=10"
check "ten recommendations returned" -- \
  '[ "$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))[\"items\"]))" "$OUT")" -eq 10 ]'
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
finish
