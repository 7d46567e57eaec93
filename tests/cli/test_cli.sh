#!/usr/bin/env bash
# Black-box tests of the CLI skeleton: version, exit codes, --help for every
# command, and the configuration layers (defaults, junco.ini, JUNCO_*, --set).
. "$(dirname "$0")/lib.sh"
H="$T/home"

run 0 "--version" -- "$JUNCO" --version
check "prints the version" -- 'grep -qE "^junco [0-9]+\.[0-9]+\.[0-9]+$" $OUT'
run 2 "no command is a usage error" -- "$JUNCO"
run 2 "unknown command" -- "$JUNCO" frobnicate
check "names the command" -- 'grep -q "unknown command .frobnicate." $ERR'
run 0 "--help" -- "$JUNCO" --help
cmds=$(sed -n '/^commands:/,/^$/p' "$OUT" | awk 'NF && $1 != "commands:" {print $1}')
check "help lists commands" -- '[ -n "$cmds" ]'
for c in $cmds; do
  run 0 "$c --help" -- "$JUNCO" "$c" --help
  check "$c --help shows usage" -- 'grep -q "usage: junco $c" $OUT'
done
run 0 "help import" -- "$JUNCO" help import
check "help import is import --help" -- 'grep -q "usage: junco import" $OUT'

# configuration layers
run 0 "config dump defaults" -- "$JUNCO" --home "$H" config dump
check "seed default 42" -- 'grep -qE "^seed += 42 +; default" $OUT'
run 0 "--set overrides" -- "$JUNCO" --home "$H" --set core.seed=7 config get core.seed
check "seed 7" -- '[ "$(cat $OUT)" = 7 ]'
run 0 "config init" -- "$JUNCO" --home "$H" config init
check "junco.ini written" -- '[ -f "$H/junco.ini" ] && grep -q "^;seed = 42" "$H/junco.ini"'
run 1 "init refuses to overwrite" -- "$JUNCO" --home "$H" config init
printf '[core]\nseed = 11\n' > "$H/junco.ini"
run 0 "junco.ini is read" -- "$JUNCO" --home "$H" config dump
check "seed 11 from file" -- 'grep -qE "^seed += 11 +; file" $OUT'
run 0 "environment beats the file" -- env JUNCO_CORE_SEED=12 "$JUNCO" --home "$H" config dump
check "seed 12 from env" -- 'grep -qE "^seed += 12 +; env" $OUT'
run 0 "--set beats the environment" -- env JUNCO_CORE_SEED=12 "$JUNCO" --home "$H" config dump --set core.seed=13
check "seed 13 from --set" -- 'grep -qE "^seed += 13 +; --set" $OUT'
run 0 "JUNCO_HOME selects the home" -- env JUNCO_HOME="$H" "$JUNCO" config get core.seed
check "seed 11 via JUNCO_HOME" -- '[ "$(cat $OUT)" = 11 ]'
run 0 "config dump --json" -- "$JUNCO" --home "$H" config dump --json
check "json has core.seed" -- 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d[\"core\"][\"seed\"][\"value\"] != \"11\")" $OUT'
run 2 "bad --set value" -- "$JUNCO" --home "$H" --set core.threads=many config dump
check "names the key" -- 'grep -q "core.threads" $ERR'
run 2 "unknown --set key" -- "$JUNCO" --home "$H" --set core.nope=1 config dump
printf '[core]\nseed = 11\nthreads = -5\n' > "$H/junco.ini"
run 1 "bad junco.ini" -- "$JUNCO" --home "$H" config dump
check "error names file:line" -- 'grep -q "junco.ini:3: core.threads: -5 is outside" $ERR'
run 0 "config docs" -- "$JUNCO" config docs
check "docs list every section" -- 'grep -q "^## \[core\]" $OUT && grep -q "| \`seed\` | INT | \`42\`" $OUT'
check "docs/CONFIG.md is current (regenerate with make docs)" -- 'cmp -s "$OUT" "$JC_SRC/docs/CONFIG.md"'
run 2 "option value missing" -- "$JUNCO" --home "$H" stats --top
run 2 "bad integer option" -- "$JUNCO" --home "$H" stats --top ten
finish
