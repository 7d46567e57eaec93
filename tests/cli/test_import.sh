#!/usr/bin/env bash
# Black-box tests of `junco import`, `junco stats` and `junco items` on the
# bundled MovieLens data and on broken inputs.
. "$(dirname "$0")/lib.sh"
H="$T/home"
ML="$JC_SRC/data/ml-latest-small"

run 0 "import ml-latest-small" -- "$JUNCO" --home "$H" import "$ML"
run 0 "stats --json" -- "$JUNCO" --home "$H" stats --json
cp "$OUT" "$T/stats.json"
check "610 users" -- '[ "$(json_get $T/stats.json "d[\"users\"]")" = 610 ]'
check "9742 items" -- '[ "$(json_get $T/stats.json "d[\"items\"]")" = 9742 ]'
check "100836 interactions" -- '[ "$(json_get $T/stats.json "d[\"interactions\"]")" = 100836 ]'
check "3683 tag events" -- '[ "$(json_get $T/stats.json "d[\"tag_events\"]")" = 3683 ]'
check "ratings from 0.5 to 5" -- '[ "$(json_get $T/stats.json "(d[\"value\"][\"min\"], d[\"value\"][\"max\"])")" = "(0.5, 5)" ]'
check "20 genres incl. none" -- '[ "$(json_get $T/stats.json "len(d[\"per_genre\"])")" = 19 ]'

# Every movie of movies.csv is present with its exact title (commas and quotes included).
run 0 "items lookup of all movies" -- bash -c "cut -d, -f1 '$ML/movies.csv' | tail -n +2 | xargs -n 60 '$JUNCO' --home '$H' items"
cp "$OUT" "$T/items.jsonl"
check "9742 items returned" -- '[ "$(wc -l < $T/items.jsonl)" = 9742 ]'
check "titles match movies.csv (trimmed) exactly" -- python3 - "$ML/movies.csv" "$T/items.jsonl" <<'PY'
import csv, json, sys
# junco trims surrounding whitespace of titles (11 titles end in a space)
want = {r["movieId"]: r["title"].strip() for r in csv.DictReader(open(sys.argv[1], encoding="utf-8"))}
got = {}
for line in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(line); got[d["id"]] = d["title"]
sys.exit(0 if want == got else 1)
PY
run 0 "title with a comma" -- "$JUNCO" --home "$H" items 11
check "American President, The (1995)" -- 'grep -q "\"title\":\"American President, The (1995)\",\"year\":1995" $OUT'

# Bad inputs: clear errors and exit code 1; the catalog stays intact.
cp "$H/catalog/catalog.jcat" "$T/good.jcat"
mkdir -p "$T/bad"
printf 'movieId,title,genres\n1,Toy Story (1995),Comedy\n' > "$T/bad/movies.csv"
printf 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,1,four,964982703\n' > "$T/bad/ratings.csv"
run 1 "malformed rating fails" -- "$JUNCO" --home "$H" import "$T/bad"
check "error names file:line" -- 'grep -q "ratings.csv:3: rating .four. is not a number" $ERR'
check "catalog untouched after failure" -- 'cmp -s "$H/catalog/catalog.jcat" "$T/good.jcat"'
run 0 "--skip-bad skips it" -- "$JUNCO" --home "$T/h2" import --skip-bad "$T/bad"
check "skipped row reported" -- 'grep -q "skipped 1 bad row" $ERR && grep -q "ratings.csv:3" $ERR'

printf 'movieId,title,genres\n1,Caf\xe9 (1995),Comedy\n' > "$T/bad/movies.csv"
printf 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n' > "$T/bad/ratings.csv"
run 1 "non-UTF-8 title fails" -- "$JUNCO" --home "$H" import "$T/bad"
check "error names the encoding and line" -- 'grep -q "movies.csv:2: title is not valid UTF-8" $ERR'

run 1 "missing source" -- "$JUNCO" --home "$H" import "$T/does-not-exist"
check "says no such file" -- 'grep -q "no such file" $ERR'

head -c 5000 "$T/good.jcat" > "$H/catalog/catalog.jcat"
run 1 "truncated catalog" -- "$JUNCO" --home "$H" stats
check "truncated is reported" -- 'grep -q "corrupt catalog" $ERR'
cp "$T/good.jcat" "$H/catalog/catalog.jcat"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x10; open(p,"wb").write(b)' "$H/catalog/catalog.jcat"
run 1 "bit-flipped catalog" -- "$JUNCO" --home "$H" stats
check "checksum mismatch reported" -- 'grep -q "checksum mismatch" $ERR'
rm -f "$H/catalog/catalog.jcat"
run 1 "missing catalog" -- "$JUNCO" --home "$H" stats
check "hint to import" -- 'grep -q "run .junco import. first" $ERR'

run 2 "unknown option is a usage error" -- "$JUNCO" --home "$H" import --frobnicate "$ML"
run 2 "unknown format is a usage error" -- "$JUNCO" --home "$H" import --format xml "$ML"
run 0 "import --help" -- "$JUNCO" import --help
check "help lists --skip-bad" -- 'grep -q -- "--skip-bad" $OUT'
finish
