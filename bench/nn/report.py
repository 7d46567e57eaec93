#!/usr/bin/python3
"""Prints the junco vs PyTorch table of one run of bench/nn/run.sh.
Usage: report.py bench/results/nn.jsonl [RUN_ID]  (default: the last run)"""
import json
import statistics as st
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
run = sys.argv[2] if len(sys.argv) > 2 else rows[-1]["run"]
rows = [r for r in rows if r.get("run") == run]
print(f"run {run}  rev {rows[0]['rev']}  {rows[0]['cpu']}  {rows[0]['blas']}")
peak = [r for r in rows if r.get("kind") == "sgemm_peak"]
fma = [r for r in rows if r.get("kind") == "fma_loop_peak"]
if peak:
    print(f"sgemm peak (1 core, 1024^3): {peak[0]['gflops']:.1f} GFLOP/s; FMA loop (AVX2): {fma[0]['gflops']:.1f} GFLOP/s")
for r in rows:
    if r.get("kind") == "dense_fwd_bwd":
        print(f"  dense fwd+bwd {r['rows']}x{r['in']}->{r['out']}: {r['gflops']:.1f} GFLOP/s = {100*r['efficiency_vs_sgemm_peak']:.0f}% of sgemm peak")

def ms(v):
    return f"{st.mean(v):.4f}±{(st.stdev(v) if len(v) > 1 else 0):.4f}"

by = defaultdict(list)
for r in rows:
    if "model" in r:
        by[(r["model"], r["impl"].split("-")[0], r["threads"])].append(r)
models = []
for r in rows:
    if "model" in r and r["model"] not in models:
        models.append(r["model"])
print()
print(f"{'model':9} {'junco AUC':>16} {'torch AUC':>16} {'dAUC':>7} {'junco LL':>8} {'torch LL':>8} "
      f"{'j s/s 1t':>9} {'t s/s 1t':>9} {'S 1t':>5} {'j s/s 2t':>9} {'t s/s 2t':>9} {'S 2t':>5} "
      f"{'j p50/p99 ms':>13} {'t p50/p99 ms':>13}")
for m in models:
    j1, t1 = by[(m, "junco", 1)], by[(m, "pytorch", 1)]
    j2, t2 = by[(m, "junco", 2)], by[(m, "pytorch", 2)]
    # quality: the 1-thread runs of every seed (the faster torch config when both exist)
    tq = {}
    for r in t1:
        tq.setdefault(r["seed"], []).append(r)
    tbest = [max(v, key=lambda r: r["samples_per_sec"]) for v in tq.values()]
    ja = [r["test_auc"] for r in j1]
    ta = [r["test_auc"] for r in tbest]
    jl = [r["test_logloss"] for r in j1]
    tl = [r["test_logloss"] for r in tbest]
    med = lambda v: st.median([r["samples_per_sec"] for r in v]) if v else float("nan")
    js1, ts1, js2, ts2 = med(j1), med(tbest), med(j2), med(t2)
    lat = lambda v, k: st.median([r[k] for r in v]) if v else float("nan")
    print(f"{m:9} {ms(ja):>16} {ms(ta):>16} {st.mean(ja)-st.mean(ta):+7.4f} {st.mean(jl):8.4f} {st.mean(tl):8.4f} "
          f"{js1:9.0f} {ts1:9.0f} {js1/ts1:5.1f} {js2:9.0f} {ts2:9.0f} {js2/ts2:5.1f} "
          f"{lat(j1,'latency_p50_ms'):6.3f}/{lat(j1,'latency_p99_ms'):6.3f} {lat(tbest,'latency_p50_ms'):6.3f}/{lat(tbest,'latency_p99_ms'):6.3f}")
print("\nS = PyTorch time / junco time (samples/s ratio, > 1: junco faster); dAUC = junco - PyTorch;"
      "\nAUC/logloss: mean ± std over seeds at 1 thread; throughput: medians; latency: 1 user x 500 candidates, 1 thread.")
