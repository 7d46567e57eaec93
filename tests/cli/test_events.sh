#!/usr/bin/env bash
# Black-box tests of `junco events`: append (JSONL, accepted/rejected report,
# exit codes), tail (offsets, groups, JSON), stats, replay-catalog, the writer
# lock, and a torn tail repaired on the next open.
. "$(dirname "$0")/lib.sh"
H="$T/home"
J() { "$JUNCO" --home "$H" "$@"; }

cat > "$T/good.jsonl" <<'JSONL'
{"user":"u1","item":"296","type":"rating","value":4.5,"time":964982703}
{"user":"u2","item":"1","type":"click","time":"2000-07-30 18:45:03","request_id":"r1","experiment":"home","variant":"B"}

{"user":"u1","item":"50","type":"exposure","time_ms":964982704000,"context":{"device":"ios","pos":3}}
JSONL
run 0 "append 3 valid events" -- J events append "$T/good.jsonl"
check "report counts" -- 'grep -q "good.jsonl: 3 accepted, 0 rejected" $ERR'
run 0 "stats --json" -- J events stats --json
cp "$OUT" "$T/stats.json"
check "3 events in 2 partitions" -- '[ "$(json_get $T/stats.json "(d[\"events\"], d[\"partitions\"])")" = "(3, 2)" ]'
run 0 "tail --json" -- J events tail --json
cp "$OUT" "$T/tail.jsonl"
check "tail prints 3 events" -- '[ $(wc -l < $T/tail.jsonl) = 3 ]'
check "event fields survive the log" -- python3 - "$T/tail.jsonl" <<'PY'
import json, sys
evs = {(d["event"]["user"], d["event"]["item"]): d["event"] for d in map(json.loads, open(sys.argv[1]))}
a = evs[("u1", "296")]; b = evs[("u2", "1")]; c = evs[("u1", "50")]
ok = (a["type"] == "rating" and a["value"] == 4.5 and a["time_ms"] == 964982703000
      and b["request_id"] == "r1" and b["experiment"] == "home" and b["variant"] == "B"
      and b["time_ms"] == 964982703000 and b["value"] == 1
      and c["type"] == "impression" and c["context"] == {"device": "ios", "pos": 3})
sys.exit(0 if ok else 1)
PY
check "one user's events stay in order in one partition" -- python3 - "$T/tail.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
u1 = [r for r in rows if r["event"]["user"] == "u1"]
sys.exit(0 if len({r["partition"] for r in u1}) == 1 and [r["event"]["item"] for r in u1] == ["296", "50"] else 1)
PY

# Bad lines: reported with line numbers, valid lines still appended, exit 1.
printf '%s\n' '{"user":"u3","item":"7","type":"like"}' 'not json' \
  '{"user":"u3","type":"like"}' '{"user":"u3","item":"7","type":"share"}' \
  '{"user":"u3","item":"7","type":"view","value":"high"}' > "$T/bad.jsonl"
run 1 "rejected lines give exit 1" -- J events append "$T/bad.jsonl"
check "line 2 not JSON" -- 'grep -q "bad.jsonl:2: not valid JSON" $ERR'
check "line 3 names the field" -- 'grep -q "bad.jsonl:3: item: missing or empty" $ERR'
check "line 4 unknown type" -- 'grep -q "bad.jsonl:4: type: .share. is not a known type" $ERR'
check "line 5 bad value" -- 'grep -q "bad.jsonl:5: value: expected a number" $ERR'
check "summary" -- 'grep -q "1 accepted, 4 rejected" $ERR'
run 0 "--skip-bad exits 0; custom type via --set" -- J --set events.custom_types=share events append --skip-bad --json "$T/bad.jsonl"
check "json report" -- '[ "$(json_get $OUT "(d[\"accepted\"], d[\"rejected\"], d[\"errors\"][0][\"line\"])")" = "(2, 3, 2)" ]'
run 0 "stdin input" -- bash -c "echo '{\"user\":\"u9\",\"item\":\"9\",\"type\":\"purchase\",\"value\":19.99}' | '$JUNCO' --home '$H' events append -"
run 0 "total is 7" -- J events stats --json
check "7 events" -- '[ "$(json_get $OUT "d[\"events\"]")" = 7 ]'
run 1 "missing file" -- J events append "$T/nope.jsonl"
check "says no such file" -- 'grep -q "no such file" $ERR'
run 2 "unknown subcommand" -- J events frobnicate
run 0 "help lists subcommands" -- J events --help
check "help mentions replay-catalog" -- 'grep -q replay-catalog $OUT'

# Consumer groups: tail --group resumes where it stopped; stats shows lag.
run 0 "group reads 4" -- J events tail --group g1 --limit 4 --json
check "4 printed" -- '[ $(wc -l < $OUT) = 4 ]'
cp "$OUT" "$T/g1a"
run 0 "group reads the rest" -- J events tail --group g1 --json
cp "$OUT" "$T/g1b"
check "3 more, no overlap" -- '[ $(wc -l < $T/g1b) = 3 ] && [ -z "$(sort $T/g1a $T/g1b | uniq -d)" ]'
run 0 "stats shows the group" -- J events stats --json
check "g1 lag 0" -- '[ "$(json_get $OUT "[(g[\"group\"], g[\"lag\"]) for g in d[\"groups\"]]")" = "[('"'"'g1'"'"', 0)]" ]'
P1=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"u1\"" in l][0]["partition"])' "$T/tail.jsonl")
run 0 "tail --from 1 --partition P" -- J events tail --from 1 --partition "$P1" --json
check "starts at offset 1 of that partition" -- '[ "$(head -1 $OUT | python3 -c "import json,sys; d=json.load(sys.stdin); print(d[\"offset\"], d[\"partition\"])")" = "1 $P1" ]'
run 2 "bad --partition" -- J events tail --partition 9
run 1 "bad group name" -- J events tail --group "../x"
check "group error" -- 'grep -q "bad consumer group name" $ERR'

# Replay the bundled catalog: 100836 interactions, time-ordered per partition.
run 0 "import ml-latest-small" -- J -q import "$JC_SRC/data/ml-latest-small"
rm -rf "$H/events"
run 0 "replay-catalog" -- J -q events replay-catalog
check "reports the count" -- 'grep -q "replayed 100836 interactions" $OUT'
run 0 "stats after replay" -- J events stats --json
check "100836 events" -- '[ "$(json_get $OUT "d[\"events\"]")" = 100836 ]'
run 0 "tail all as JSON" -- J events tail -n 1000000 --json
check "time order within each partition" -- python3 - "$OUT" <<'PY'
import json, sys
last = {}
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line); n += 1
    p, t = d["partition"], d["event"]["time_ms"]
    if t < last.get(p, 0): sys.exit(1)
    last[p] = t
sys.exit(0 if n == 100836 else 1)
PY

# A torn tail (a crash in the middle of a write) is cut off on the next open.
seg=$(ls "$H"/events/p000/*.log | tail -1)
size=$(stat -c %s "$seg")
truncate -s $((size - 7)) "$seg"
run 0 "append after a torn tail" -- J events append "$T/good.jsonl"
check "warning names the torn tail" -- 'grep -q "truncating" $ERR'
run 0 "stats after repair" -- J events stats --json
check "one record lost, 3 added" -- '[ "$(json_get $OUT "d[\"events\"]")" = 100838 ]'
run 0 "the whole log reads clean" -- J events tail -n 1000000 --json
check "no undecodable record" -- '! grep -q "\"event\":null" $OUT'
finish
