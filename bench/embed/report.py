"""Prints the comparison tables of one bench/embed/run from bench/results/embed.jsonl.
  report.py RESULTS.jsonl [RUN_ID]   (default: the latest run)
"""
import json
import statistics as st
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r.get("task", "").startswith(("item2vec", "mf"))]
run = sys.argv[2] if len(sys.argv) > 2 else rows[-1]["run"]
rows = [r for r in rows if r.get("run") == run]


def ms(v):
    return "%.4f ± %.4f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0.0)


def med(v):
    return "%.3g (%.3g-%.3g)" % (st.median(v), min(v), max(v))


print("run", run)
print("\n## item2vec vs gensim: next-item on the temporal split (junco's evaluator)")
g = defaultdict(list)
for r in rows:
    if r["task"] == "item2vec_quality":
        g[(r["dataset"], r["impl"])].append(r)
print("| dataset | impl | seeds | HR@10 (last item) | NDCG@10 (last item) | HR@10 (user vector) |")
print("|---|---|---|---|---|---|")
for (ds, impl), v in sorted(g.items()):
    print("| %s | %s | %d | %s | %s | %s |" % (ds, impl, len(v), ms([x["hr_item"] for x in v]),
                                              ms([x["ndcg_item"] for x in v]), ms([x["hr_user"] for x in v])))
print("\n## item2vec vs gensim: training words/s (median, min-max)")
g = defaultdict(list)
for r in rows:
    if r["task"] == "item2vec_speed":
        g[(r["dataset"], r["threads"], r["impl"])].append(r["words_per_sec"])
print("| dataset | threads | junco words/s | gensim words/s | S = junco/gensim |")
print("|---|---|---|---|---|")
for (ds, th) in sorted({(k[0], k[1]) for k in g}):
    j, p = g.get((ds, th, "junco"), []), g.get((ds, th, "gensim"), [])
    if j and p:
        print("| %s | %d | %s | %s | %.2f |" % (ds, th, med(j), med(p), st.median(j) / st.median(p)))
print("\n## iALS / BPR: full-ranking NDCG@10, training items masked (temporal split)")
g = defaultdict(list)
for r in rows:
    if r["task"] == "mf":
        g[(r["dataset"], r["model"], r["threads"], r["impl"])].append(r)
print("| dataset | model | threads | impl | runs | NDCG@10 | Recall@10 | train s (median) | S = peer/junco |")
print("|---|---|---|---|---|---|---|---|---|")
for key, v in sorted(g.items()):
    ds, model, th, impl = key
    jt = [x["seconds"] for x in g.get((ds, model, th, "junco"), [])]
    t = [x["seconds"] for x in v]
    ratio = "%.1f" % (st.median(t) / st.median(jt)) if jt and impl != "junco" else "-"
    print("| %s | %s | %d | %s | %d | %s | %s | %s | %s |" % (
        ds, model, th, impl, len(v), ms([x["ndcg_full"] for x in v]), ms([x["recall_full"] for x in v]),
        med(t), ratio))
