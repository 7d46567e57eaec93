#!/usr/bin/env bash
# Black-box tests of `junco synth`: determinism, exact sizes after import,
# implicit mode, and parameter validation.
. "$(dirname "$0")/lib.sh"
A="$T/a"; B="$T/b"; C="$T/c"
run 0 "synth small" -- "$JUNCO" synth "$A" --users 300 --items 400 --interactions 20000 --seed 5
check "reports the sizes" -- 'grep -q "300 users, 400 items, 20000 interactions" $OUT'
run 0 "synth again, same seed" -- "$JUNCO" synth "$B" --users 300 --items 400 --interactions 20000 --seed 5
check "byte-identical ratings" -- 'cmp -s "$A/ratings.csv" "$B/ratings.csv"'
check "byte-identical movies" -- 'cmp -s "$A/movies.csv" "$B/movies.csv" && cmp -s "$A/tags.csv" "$B/tags.csv"'
run 0 "synth, other seed" -- "$JUNCO" synth "$C" --users 300 --items 400 --interactions 20000 --seed 6
check "different data" -- '! cmp -s "$A/ratings.csv" "$C/ratings.csv"'
run 0 "import synthetic data" -- "$JUNCO" --home "$T/h" import "$A" --json
check "exact counts" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d[\"users\"]==300 and d[\"items\"]==400 and d[\"interactions\"]==20000 and d[\"bad_rows\"]==0))" $OUT'
run 0 "stats of synthetic data" -- "$JUNCO" --home "$T/h" stats --json
check "half-star ratings in [0.5, 5]" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); v=[b[\"value\"] for b in d[\"value\"][\"histogram\"]]; sys.exit(not (min(v)>=0.5 and max(v)<=5 and all(x*2==int(x*2) for x in v)))" $OUT'
check "genres present" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(len(d[\"per_genre\"]) != 18)" $OUT'
check "titles with commas were quoted" -- 'grep -q "^[0-9]*,\"[^\"]*, The ([0-9]*)\"," "$A/movies.csv"'
run 0 "sparse synth" -- "$JUNCO" synth "$T/z" --users 2000 --items 2000 --interactions 40000
run 0 "import sparse" -- "$JUNCO" --home "$T/hz" import "$T/z"
run 0 "stats sparse" -- "$JUNCO" --home "$T/hz" stats --json
check "popularity is skewed (Zipf): top item > 50x the median item" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); t=d[\"top_items\"]; sys.exit(not (t[0][\"interactions\"] > 50 * d[\"per_item\"][\"median\"]))" $OUT'
check "ratings look like MovieLens (mean 3.2-3.8, std 0.8-1.2)" -- 'python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[\"value\"]; sys.exit(not (3.2 < v[\"mean\"] < 3.8 and 0.8 < v[\"std\"] < 1.2))" $OUT'
run 0 "implicit mode" -- "$JUNCO" synth "$T/i" --users 50 --items 100 --interactions 500 --implicit
check "all values 1.0" -- '[ "$(tail -n +2 $T/i/ratings.csv | cut -d, -f3 | sort -u)" = "1.0" ]'
run 2 "zero users" -- "$JUNCO" synth "$T/x" --users 0
run 2 "too many genres" -- "$JUNCO" synth "$T/x" --genres 65
run 1 "impossible density" -- "$JUNCO" synth "$T/x" --users 10 --items 10 --interactions 1000
check "explains why" -- 'grep -q "cannot be spread over 10 users" $ERR'
finish
