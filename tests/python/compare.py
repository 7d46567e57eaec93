#!/usr/bin/python3
"""Compares junco's metrics JSON with the NumPy reference's: every metric
the reference computed must be present in junco's output and agree to the
tolerance (default 1e-6). Exit 0 on agreement, 1 with a list otherwise.
Usage: compare.py JUNCO.json REF.json [TOL]"""
import json
import sys

j = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
bad = []
if j["users"] != r["users"]:
    bad.append("users: junco %s, reference %s" % (j["users"], r["users"]))
worst = 0.0
for k, v in sorted(r["metrics"].items()):
    if k not in j["metrics"]:
        bad.append("%s: missing in junco" % k)
        continue
    d = abs(j["metrics"][k] - v)
    worst = max(worst, d)
    if not d <= tol:
        bad.append("%s: junco %.10f, reference %.10f (diff %.3g)" % (k, j["metrics"][k], v, d))
print("compared %d metrics over %s users, max |diff| = %.3g" % (len(r["metrics"]), r["users"], worst))
for b in bad:
    print("MISMATCH " + b)
sys.exit(1 if bad else 0)
