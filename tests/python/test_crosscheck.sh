#!/usr/bin/env bash
# Cross-checks junco's evaluator against the NumPy reference evaluator
# (tests/python/ref_eval.py) on fixed split and score files, to 1e-6:
# full ranking (random split, ItemKNN scores with many ties; temporal split,
# random scores with ties), sampled ranking (leave-one-out, popularity
# scores, junco's exported negatives); EASE against its NumPy closed form;
# the A/B statistics against SciPy. Needs /usr/bin/python3 with NumPy (and
# SciPy for the A/B part); without NumPy the test is skipped (exit 77).
. "$(dirname "$0")/../cli/lib.sh"
PY=/usr/bin/python3
HERE="$JC_SRC/tests/python"
if ! $PY -c 'import numpy' 2>/dev/null; then
  echo "# SKIP: /usr/bin/python3 has no NumPy (apt-get install python3-numpy)"
  rm -rf "$T"
  exit 77
fi
H="$T/home"
run 0 "import ml-latest-small" -- "$JUNCO" --home "$H" -q import "$JC_SRC/data/ml-latest-small"

# 1. full ranking, random split, ItemKNN scores (zero-heavy: the tie rule matters)
run 0 "export random split + itemknn scores" -- "$JUNCO" --home "$H" -q eval --export "$T/rand" --protocol random --model itemknn
run 0 "junco evaluates the score file" -- "$JUNCO" --home "$H" eval --split "$T/rand" --scores "$T/rand/scores.f32" --json
cp "$OUT" "$T/j1.json"
run 0 "numpy reference evaluates it" -- $PY "$HERE/ref_eval.py" --split "$T/rand" --scores "$T/rand/scores.f32"
cp "$OUT" "$T/r1.json"
run 0 "agree to 1e-6 (random, itemknn)" -- $PY "$HERE/compare.py" "$T/j1.json" "$T/r1.json" 1e-6
check "30 metrics over 610 users" -- 'grep -q "compared 30 metrics over 610 users" "$OUT"'

# 2. full ranking, temporal split, random scores rounded to 2 decimals (ties) + NaNs
run 0 "export temporal split" -- "$JUNCO" --home "$H" -q eval --export "$T/temp" --protocol temporal
run 0 "write random scores with ties" -- $PY - "$T/temp" <<'PY'
import ctypes, json, os, struct, sys
import numpy as np
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
rng = np.random.default_rng(7)
s = np.round(rng.random((m["n_users"], m["n_items"]), dtype=np.float32), 2).astype("<f4")
s[rng.random(s.shape) < 0.001] = np.nan
data = s.tobytes()
xx = ctypes.CDLL("libxxhash.so.0")
xx.XXH3_64bits_withSeed.restype = ctypes.c_uint64
xx.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
h = xx.XXH3_64bits_withSeed(data, len(data), 0)
hdr = b"JCSCORE1" + struct.pack("<IIII", 1, m["n_users"], m["n_items"], 0) + struct.pack("<Q", h)
open(os.path.join(d, "scores.f32"), "wb").write(hdr + b"\0" * (64 - len(hdr)) + data)
PY
run 0 "junco evaluates the tied scores" -- "$JUNCO" --home "$H" eval --split "$T/temp" --scores "$T/temp/scores.f32" --json --k 5,10,20
cp "$OUT" "$T/j2.json"
run 0 "numpy reference evaluates them" -- $PY "$HERE/ref_eval.py" --split "$T/temp" --scores "$T/temp/scores.f32" --k 5,10,20
cp "$OUT" "$T/r2.json"
run 0 "agree to 1e-6 (temporal, ties, NaN)" -- $PY "$HERE/compare.py" "$T/j2.json" "$T/r2.json" 1e-6

# 3. sampled ranking on leave-one-out, popularity scores (massive ties)
run 0 "export loo-sampled split + popularity scores + negatives" -- "$JUNCO" --home "$H" -q eval --export "$T/loo" --protocol loo-sampled --model popularity
check "negatives file has one line per user" -- '[ "$(wc -l < "$T/loo/negatives.tsv")" = 611 ]'
run 0 "junco sampled metrics" -- "$JUNCO" --home "$H" eval --split "$T/loo" --scores "$T/loo/scores.f32" --protocol loo-sampled --json
cp "$OUT" "$T/j3.json"
check "labelled sampled" -- 'grep -q "\"sampled\":true" "$T/j3.json"'
run 0 "numpy sampled metrics" -- $PY "$HERE/ref_eval.py" --split "$T/loo" --scores "$T/loo/scores.f32" --sampled "$T/loo/negatives.tsv"
cp "$OUT" "$T/r3.json"
run 0 "agree to 1e-6 (sampled)" -- $PY "$HERE/compare.py" "$T/j3.json" "$T/r3.json" 1e-6

# 4. a damaged score file is refused
cp "$T/rand/scores.f32" "$T/bad.f32"
printf '\x01' | dd of="$T/bad.f32" bs=1 seek=1000 conv=notrunc 2>/dev/null
run 1 "altered score file rejected" -- "$JUNCO" --home "$H" eval --split "$T/rand" --scores "$T/bad.f32"
check "says checksum mismatch" -- 'grep -q "checksum mismatch" "$ERR"'

# 5. EASE against the NumPy closed form, on a small synthetic catalog
run 0 "synthesise a small data set" -- "$JUNCO" synth "$T/syn" --users 300 --items 400 --interactions 15000 --seed 3
run 0 "import it" -- "$JUNCO" --home "$T/h2" -q import "$T/syn"
run 0 "export random split + EASE scores" -- "$JUNCO" --home "$T/h2" -q eval --export "$T/ease" --protocol random --model ease
run 0 "EASE equals the NumPy closed form" -- $PY "$HERE/ease_check.py" "$T/ease" "$T/ease/scores.f32" --lambda 500
cat "$OUT" | sed 's/^/# /'

# 6. A/B statistics against SciPy
if $PY -c 'import scipy' 2>/dev/null; then
  run 0 "ab report agrees with SciPy" -- $PY "$HERE/ab_check.py" "$JUNCO"
else
  echo "# SKIP: no SciPy, A/B statistics not cross-checked"
fi
finish
