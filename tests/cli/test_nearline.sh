#!/usr/bin/env bash
# Black-box tests of `junco nearline` (and `junco import --to-log`): the
# replayed catalog gives the same user features as `junco publish features`;
# a second run applies nothing (offsets stored with the state); a worker
# killed with SIGKILL mid-stream and restarted ends in the same state as a
# clean run; partition locks between processes; metrics file; and the
# acceptance test: with `junco nearline` running, a rating appended with
# `junco events append` shows up in the user's features in the store
# within one second (measured).
. "$(dirname "$0")/lib.sh"
H="$T/home"
J() { "$JUNCO" --home "$H" "$@"; }
S="--set store.sync=false"

run 0 "synth a small data set" -- "$JUNCO" synth "$T/data" --users 120 --items 150 --interactions 3000 --seed 5
run 2 "--to-log with --append is a usage error" -- J import "$T/data" --to-log --append
run 0 "import --to-log" -- J import "$T/data" --to-log
check "the interactions went to the log" -- 'grep -q "3000 interactions appended" $OUT'
run 0 "nearline --help" -- J nearline --help
check "help names the options" -- 'grep -q -- "--count N" $OUT && grep -q -- "--once" $OUT'
run 2 "--index beyond --count" -- J nearline --index 2 --count 2 --once
run 0 "nearline --once --json" -- J $S nearline --once --json --metrics "$T/metrics.prom"
cp "$OUT" "$T/once.json"
check "3000 events in and out, lag 0" -- '[ "$(json_get $T/once.json "(d[\"events_in\"], d[\"events_out\"], d[\"lag\"])")" = "(3000, 3000, 0)" ]'
check "metrics file in Prometheus text" -- 'grep -q "^junco_nearline_events_out_total 3000$" $T/metrics.prom && grep -q "^junco_nearline_store_latency_seconds_count 3000$" $T/metrics.prom'

# The same catalog published offline into a second home: same user features.
H2="$T/home2"
run 0 "import into a second home" -- "$JUNCO" --home "$H2" import "$T/data"
run 0 "publish features offline" -- "$JUNCO" --home "$H2" $S publish features
run 0 "dump nearline user states" -- J store dump --prefix uf:
cp "$OUT" "$T/uf-nearline.txt"
run 0 "dump offline user states" -- "$JUNCO" --home "$H2" store dump --prefix uf:
cp "$OUT" "$T/uf-offline.txt"
check "120 users, identical key/size/event counts" -- '[ $(wc -l < $T/uf-nearline.txt) = 120 ] && cmp -s $T/uf-nearline.txt $T/uf-offline.txt'
for u in 1 7 42; do
  J store get user $u > "$T/a.json" 2>&1
  "$JUNCO" --home "$H2" store get user $u > "$T/b.json" 2>&1
  check "user $u: identical realtime and offline features" -- 'cmp -s $T/a.json $T/b.json'
done

run 0 "a second run applies nothing" -- J $S nearline --once --json
cp "$OUT" "$T/again.json"
check "0 events in" -- '[ "$(json_get $T/again.json "d[\"events_in\"]")" = "0" ]'

# More events; a reference home gets them too and is processed cleanly.
python3 - "$T/more.jsonl" <<'PY'
import json, random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for k in range(3000):
        f.write(json.dumps({"user": str(r.randint(1, 140)), "item": str(r.randint(1, 160)),
                            "type": "rating", "value": r.randint(1, 10) / 2,
                            "time_ms": 1700000000000 + k * 1000}) + "\n")
PY
H3="$T/home3"
run 0 "reference home" -- "$JUNCO" --home "$H3" import "$T/data" --to-log
run 0 "reference: the extra events" -- "$JUNCO" --home "$H3" events append "$T/more.jsonl"
run 0 "reference: clean nearline run" -- "$JUNCO" --home "$H3" $S nearline --once
run 0 "the extra events into the main log" -- J events append "$T/more.jsonl"
"$JUNCO" --home "$H" --set store.sync=true --set nearline.batch=7 nearline -q >/dev/null 2>&1 &
pid=$!
sleep 0.4
{ kill -9 $pid && wait $pid; } 2>/dev/null
J events stats --json > "$T/stats.json" 2>/dev/null
run 0 "restart after kill -9" -- J $S nearline --once --json
cp "$OUT" "$T/restart.json"
check "the restart applied only the rest" -- '[ "$(json_get $T/restart.json "d[\"events_out\"] < 3000 and d[\"lag\"] == 0")" = "True" ]'
run 0 "dump after restart" -- J store dump --prefix uf:
cp "$OUT" "$T/uf-killed.txt"
run 0 "dump reference" -- "$JUNCO" --home "$H3" store dump --prefix uf:
check "killed + restarted == clean run (user records)" -- 'cmp -s $T/uf-killed.txt $OUT'
run 0 "dump item records after restart" -- J store dump --prefix if:
cp "$OUT" "$T/if-killed.txt"
run 0 "dump reference item records" -- "$JUNCO" --home "$H3" store dump --prefix if:
check "killed + restarted == clean run (item records)" -- 'cmp -s $T/if-killed.txt $OUT'
J store get user 42 > "$T/a.json" 2>&1
"$JUNCO" --home "$H3" store get user 42 > "$T/b.json" 2>&1
check "user 42 features equal after the kill" -- 'cmp -s $T/a.json $T/b.json'

# Partition locks: a second process with the same share is refused.
"$JUNCO" --home "$H" $S nearline --index 0 --count 2 -q >/dev/null 2>&1 &
pid=$!
sleep 0.5
run 1 "a second owner of partition 0 is refused" -- J $S nearline --index 0 --count 2 --once
check "the error names the owner" -- 'grep -q "owned by another worker (process $pid" $ERR'
run 0 "the other share is free" -- J $S nearline --index 1 --count 2 --once
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null

# Acceptance: a new rating reaches the store within one second.
"$JUNCO" --home "$H" $S --set nearline.poll_ms=20 nearline -q >/dev/null 2>&1 &
pid=$!
sleep 0.5
events_of() { J store get user "$1" | sed -n 's/^  "events": \([0-9]*\),$/\1/p'; }
before=$(events_of 42)
t0=$(date +%s%N)
echo '{"user":"42","item":"1","type":"rating","value":5,"time_ms":1800000000000}' | J events append - 2>/dev/null
seen=0
while :; do
  now=$(events_of 42)
  el=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$now" = "$((before + 1))" ]; then seen=1; break; fi
  [ $el -gt 3000 ] && break
done
echo "# new rating -> user features in the store: ${el} ms (append included)"
check "the rating changed the user's features" -- '[ $seen = 1 ]'
check "within one second" -- '[ $el -lt 1000 ]'
kill -TERM $pid 2>/dev/null
wait $pid
check "the worker exits 0 on SIGTERM" -- '[ $? = 0 ]'
finish
