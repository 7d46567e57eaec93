#!/usr/bin/python3
"""`junco ab report --counts ... --json` against SciPy.

For a few count sets, recomputes with SciPy the Wilson interval
(stats.binomtest(k, n).proportion_ci(method='wilson')), the pooled
two-proportion z-test (p = 2 * stats.norm.sf(|z|)) and the SRM chi-square
(stats.chisquare(users, expected)) and compares with junco's JSON.
Usage: ab_check.py JUNCO_BINARY"""
import json
import math
import subprocess
import sys

from scipy import stats

junco = sys.argv[1]
cases = [
    [("a", 10000, 500, 5000), ("b", 10000, 560, 4600)],
    [("a", 10000, 500, 10200), ("b", 5000, 270, 4900), ("c", 5000, 200, 4900)],
    [("ctl", 123457, 3210, 61000), ("t1", 120001, 3333, 60500)],
    [("x", 50, 0, 25), ("y", 60, 3, 30)],
]
bad = 0
for case in cases:
    counts = ",".join("%s:%d:%d:%d" % c for c in case)
    out = subprocess.run([junco, "ab", "report", "--counts", counts, "--json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    ctl = case[0]
    pc = ctl[2] / ctl[1]
    for c, v in zip(case, j["variants"]):
        ci = stats.binomtest(c[2], c[1]).proportion_ci(0.95, method="wilson")
        want = {"ci_low": ci.low, "ci_high": ci.high, "ctr": c[2] / c[1]}
        if c is not ctl:
            p = (c[2] + ctl[2]) / (c[1] + ctl[1])
            se = math.sqrt(p * (1 - p) * (1 / c[1] + 1 / ctl[1]))
            z = (c[2] / c[1] - pc) / se
            want["z"] = z
            want["p_value"] = 2 * stats.norm.sf(abs(z))
            if pc > 0:
                want["lift"] = (c[2] / c[1] - pc) / pc
        for k, w in want.items():
            if not abs(v[k] - w) <= 1e-9 * max(1.0, abs(w)):
                print("MISMATCH %s %s: junco %r scipy %r" % (c[0], k, v[k], w))
                bad += 1
    users = [c[3] for c in case]
    chi = stats.chisquare(users)
    for k, w in (("chi2", chi.statistic), ("p_value", chi.pvalue)):
        if not abs(j["srm"][k] - w) <= 1e-9 * max(1.0, abs(w)):
            print("MISMATCH srm %s: junco %r scipy %r" % (k, j["srm"][k], w))
            bad += 1
    print("%s: srm p %.4g (flag %s)" % (counts, j["srm"]["p_value"], j["srm"]["flag"]))
sys.exit(1 if bad else 0)
