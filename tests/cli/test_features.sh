#!/usr/bin/env bash
# Black-box tests of `junco features`, `junco publish features` and
# `junco store get|dump` on the bundled ml-latest-small, with the embedded
# store and (when redis-server is installed) a real Redis on a free port.
. "$(dirname "$0")/lib.sh"
H="$T/home"
ML="$JC_SRC/data/ml-latest-small"

run 0 "import ml-latest-small" -- "$JUNCO" --home "$H" import "$ML"

# --- features --json: row counts, positive rate and time ranges per split
run 0 "features --json (time split)" -- "$JUNCO" --home "$H" features --json
cp "$OUT" "$T/time.json"
j() { json_get "$T/time.json" "$1"; }
check "100836 events walked" -- '[ "$(j "d[\"events\"]")" = 100836 ]'
check "train/valid/test rows 79185/9967/9990" -- \
  '[ "$(j "[d[\"splits\"][s][\"rows\"] for s in (\"train\",\"valid\",\"test\")]")" = "[79185, 9967, 9990]" ]'
check "1694 events dropped (fewer than 2 earlier events)" -- '[ "$(j "d[\"dropped\"]")" = 1694 ]'
check "rows + dropped = events" -- '[ "$(j "d[\"rows\"] + d[\"dropped\"]")" = 100836 ]'
check "positive rates per split" -- \
  '[ "$(j "[round(d[\"splits\"][s][\"positive_rate\"], 4) for s in (\"train\",\"valid\",\"test\")]")" = "[0.6121, 0.6701, 0.5534]" ]'
check "time ranges are ordered and cut at the quantiles" -- \
  '[ "$(j "d[\"splits\"][\"train\"][\"time_max\"] < d[\"cut_valid\"] <= d[\"splits\"][\"valid\"][\"time_min\"] <= d[\"splits\"][\"valid\"][\"time_max\"] < d[\"cut_test\"] <= d[\"splits\"][\"test\"][\"time_min\"]")" = True ]'
check "time range of the test split" -- \
  '[ "$(j "(d[\"splits\"][\"test\"][\"time_min_utc\"], d[\"splits\"][\"test\"][\"time_max_utc\"])")" = "('"'"'2017-06-21 07:17:30'"'"', '"'"'2018-09-24 14:27:30'"'"')" ]'
check "layout 27 fields, 37 slots, 9 numbers" -- \
  '[ "$(j "(d[\"layout\"][\"fields\"], d[\"layout\"][\"n_cat\"], d[\"layout\"][\"n_num\"])")" = "(27, 37, 9)" ]'
check "sample files and manifests" -- \
  '[ -s "$H/samples/manifest.jcm" ] && [ -s "$H/samples/train-000.jcs" ] && [ -s "$H/samples/manifest.json" ]'
check "manifest.json has the same counts" -- \
  '[ "$(json_get "$H/samples/manifest.json" "d[\"splits\"][\"valid\"][\"rows\"]")" = 9967 ]'

run 0 "features --split loo" -- "$JUNCO" --home "$H" features --split loo --json
cp "$OUT" "$T/loo.json"
check "loo: one test and one valid row per user" -- \
  '[ "$(json_get "$T/loo.json" "[d[\"splits\"][s][\"rows\"] for s in (\"train\",\"valid\",\"test\")]")" = "[97922, 610, 610]" ]'

run 0 "features --split random --seed 7" -- "$JUNCO" --home "$H" features --split random --seed 7 --json
cp "$H/samples/manifest.json" "$T/r7a.json"
run 0 "same seed again (2 threads)" -- "$JUNCO" --home "$H" --set core.threads=2 features --split random --seed 7
cp "$H/samples/manifest.json" "$T/r7b.json"
check "same seed, same samples (row checksums)" -- 'cmp -s "$T/r7a.json" "$T/r7b.json"'
run 0 "another seed" -- "$JUNCO" --home "$H" features --split random --seed 8
check "another seed, other samples" -- '! cmp -s "$T/r7a.json" "$H/samples/manifest.json"'

run 0 "features --implicit --negatives 2" -- "$JUNCO" --home "$H" features --implicit --negatives 2 --sampling popularity --json
cp "$OUT" "$T/implicit.json"
check "implicit: every kept event positive, plus 2 negatives each" -- \
  '[ "$(json_get "$T/implicit.json" "(d[\"negatives\"], d[\"rows\"] - d[\"negatives\"], sum(d[\"splits\"][s][\"positives\"] for s in d[\"splits\"]))")" = "(198284, 99142, 99142)" ]'

# --- exports
run 0 "features --export csv" -- "$JUNCO" --home "$H" features --export csv
check "course CSV header (27 columns)" -- \
  '[ "$(head -1 "$H/samples/train.csv")" = "movieId,userId,rating,timestamp,label,releaseYear,movieGenre1,movieGenre2,movieGenre3,movieRatingCount,movieAvgRating,movieRatingStddev,userRatedMovie1,userRatedMovie2,userRatedMovie3,userRatedMovie4,userRatedMovie5,userRatingCount,userAvgReleaseYear,userReleaseYearStddev,userAvgRating,userRatingStddev,userGenre1,userGenre2,userGenre3,userGenre4,userGenre5" ]'
check "one CSV line per row" -- '[ "$(wc -l < "$H/samples/train.csv")" = 79186 ] && [ "$(wc -l < "$H/samples/test.csv")" = 9991 ]'
check "every CSV line has 27 fields" -- \
  'python3 -c "import csv,sys; sys.exit(0 if all(len(r)==27 for r in csv.reader(open(sys.argv[1]))) else 1)" "$H/samples/valid.csv"'
check "user 1 sees two earlier ratings at its third timestamp" -- \
  'grep -q "^2018,1,5.0,964980523,1,1942,Animation,Children,Drama,2,3.50,0.71,1210,804,,,,2,1989,9.19,4.50,0.71," "$H/samples/train.csv"'
run 0 "features --export tsv" -- "$JUNCO" --home "$H" features --export tsv
check "TSV: header + rows, 51 columns" -- \
  '[ "$(wc -l < "$H/samples/train.tsv")" = 79186 ] && [ "$(head -2 "$H/samples/train.tsv" | tail -1 | awk -F"\t" "{print NF}")" = 51 ]'

# --- bad specs fail before any work; the samples stay as they were
cp "$H/samples/manifest.json" "$T/before.json"
printf 'userId cat\nfooBar num\n' > "$T/bad.spec"
run 1 "unknown column in a spec file" -- "$JUNCO" --home "$H" features --spec "$T/bad.spec"
check "error names file:line and the column" -- 'grep -q "bad.spec:2: unknown column .fooBar." $ERR'
printf 'userId num\n' > "$T/bad2.spec"
run 1 "impossible kind" -- "$JUNCO" --home "$H" features --spec "$T/bad2.spec"
check "error says the kind is impossible" -- 'grep -q "kind num is impossible" $ERR'
run 1 "unknown column in --columns" -- "$JUNCO" --home "$H" features --columns userId,nope
check "error names the column" -- 'grep -q "column .nope. is not in the spec" $ERR'
run 1 "course CSV without its columns" -- "$JUNCO" --home "$H" features --columns userId,movieId --export csv
check "error names the missing column" -- 'grep -q "the course CSV needs column releaseYear" $ERR'
check "samples untouched by the failures" -- 'cmp -s "$T/before.json" "$H/samples/manifest.json"'
run 2 "unknown split method" -- "$JUNCO" --home "$H" features --split weekly
run 2 "fractions summing to 1" -- "$JUNCO" --home "$H" features --valid 0.6 --test 0.5
run 2 "unknown export format" -- "$JUNCO" --home "$H" features --export xml
run 0 "features --help" -- "$JUNCO" features --help
check "help lists --split and --export" -- 'grep -q -- "--split" $OUT && grep -q -- "--export" $OUT'

# --- the embedded feature store
run 0 "publish features (LMDB)" -- "$JUNCO" --home "$H" publish features --json
check "610 users and 9742 items published" -- \
  '[ "$(json_get $OUT "(d[\"users\"], d[\"items\"], d[\"backend\"])")" = "(610, 9742, '"'"'lmdb'"'"')" ]'
run 0 "store get user 1" -- "$JUNCO" --home "$H" store get user 1
cp "$OUT" "$T/u1.json"
check "user 1: 232 events, window of 100" -- \
  '[ "$(json_get "$T/u1.json" "(d[\"events\"], d[\"features\"][\"userRatingCount\"], len(d[\"features\"][\"userHistory\"]))")" = "(232, 100, 20)" ]'
run 0 "store get item 1" -- "$JUNCO" --home "$H" store get item 1
check "Toy Story: 215 ratings, mean 3.9209" -- \
  '[ "$(json_get $OUT "(d[\"movieRatingCount\"], round(d[\"movieAvgRating\"], 4))")" = "(215, 3.9209)" ]'
run 0 "store dump --prefix if: --limit 3" -- "$JUNCO" --home "$H" store dump --prefix if: --limit 3
check "three sorted item lines" -- '[ "$(cut -f1 $OUT | tr "\n" " ")" = "if:1 if:10 if:100 " ]'
run 0 "store dump" -- "$JUNCO" --home "$H" store dump
check "every user, item and meta:features" -- '[ "$(wc -l < $OUT)" = 10353 ]'
run 1 "missing user" -- "$JUNCO" --home "$H" store get user nosuch
check "says which key is missing" -- 'grep -q "no key .uf:nosuch." $ERR'
run 2 "unknown kind" -- "$JUNCO" --home "$H" store get frob 1
run 2 "unknown store subcommand" -- "$JUNCO" --home "$H" store frob

# --- the same through Redis, if available
if command -v redis-server >/dev/null 2>&1; then
  P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  mkdir -p "$T/redis"
  # a child bounded by timeout (and stopped by the trap), so a killed test run
  # cannot leave a server behind for long
  timeout 600 redis-server --port "$P" --bind 127.0.0.1 --daemonize no --pidfile "$T/redis/pid" \
    --save '' --appendonly no --dir "$T/redis" --logfile "$T/redis/log" >/dev/null 2>&1 &
  trap '[ -s "$T/redis/pid" ] && kill "$(cat "$T/redis/pid")" 2>/dev/null' EXIT
  for i in $(seq 50); do redis-cli -p "$P" ping >/dev/null 2>&1 && break; sleep 0.1; done
  R=(--set store.backend=redis --set redis.port="$P" --set redis.prefix=test:)
  run 0 "publish features (Redis)" -- "$JUNCO" --home "$H" "${R[@]}" publish features --json
  check "published to redis" -- 'grep -q "\"backend\": \"redis\"" $OUT'
  run 0 "store get user 1 (Redis)" -- "$JUNCO" --home "$H" "${R[@]}" store get user 1
  check "same record as in LMDB" -- 'cmp -s "$T/u1.json" $OUT'
  check "keys carry the prefix" -- '[ "$(redis-cli -p "$P" exists test:uf:1)" = 1 ]'
  run 0 "store dump (Redis)" -- "$JUNCO" --home "$H" "${R[@]}" store dump --prefix uf:
  check "610 user keys" -- '[ "$(wc -l < $OUT)" = 610 ]'
  kill "$(cat "$T/redis/pid")"
  for i in $(seq 50); do redis-cli -p "$P" ping >/dev/null 2>&1 || break; sleep 0.1; done
  run 1 "Redis down: clear error" -- "$JUNCO" --home "$H" "${R[@]}" --set redis.retries=1 store get user 1
  check "names the server and the retries" -- 'grep -q "redis 127.0.0.1:$P: .*gave up after 1 retries" $ERR'
  check "the server is gone" -- '! redis-cli -p "$P" ping >/dev/null 2>&1'
else
  echo "# SKIP: redis-server is not installed; Redis CLI checks skipped"
fi

# --- a corrupt LMDB store is a clear error
head -c 65536 /dev/urandom > "$H/store/data.mdb"
run 1 "corrupt store" -- "$JUNCO" --home "$H" store get user 1
check "says the file is not a valid LMDB environment" -- 'grep -q "not a valid LMDB environment" $ERR'
finish
