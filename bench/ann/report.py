#!/usr/bin/python3
"""Records and summarises the ANN benchmark (bench/ann/run).

  report.py append FILE RUN_ID DATASET [key=value ...] < json-lines
      adds run metadata (run id, dataset, git revision, CPU, time, extra
      key=values) to each JSON line read from stdin and appends it to FILE.
  report.py table FILE RUN_ID
      prints, per dataset and thread count, for each implementation: build
      seconds (median and range), bytes per vector (RSS growth during the
      build), and queries/s at recall@10 >= 0.90 / 0.95 / 0.99 (the fastest
      swept setting that reaches the level; "-" if none does), then the ratio
      of junco-hnsw to hnswlib and to faiss-hnsw (queries/s: junco / peer,
      > 1 means junco is faster; build: peer time / junco time).
"""
import json
import subprocess
import sys
import time

LEVELS = (0.90, 0.95, 0.99)


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def append(path, run_id, dataset, extra):
    meta = {"task": "ann", "run": run_id, "dataset": dataset, "git": git_rev(),
            "cpu": cpu_model(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for kv in extra:
        k, _, v = kv.partition("=")
        meta[k] = v
    with open(path, "a") as out:
        for line in sys.stdin:
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            rec.update(meta)
            out.write(json.dumps(rec) + "\n")
            print(line, flush=True)


def qps_at(searches, level):
    """Queries/s of the cheapest swept setting (smallest ef / probe count)
    whose recall reaches `level`."""
    for s in sorted(searches, key=lambda x: x["param"]):
        if s["recall"] >= level:
            return s["qps"]
    return None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return ("%%.%df" % digits) % x


def table(path, run_id):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    recs = [r for r in recs if r.get("run") == run_id]
    keys = []
    for r in recs:
        key = (r["dataset"], r["threads"])
        if key not in keys:
            keys.append(key)
    for dataset, threads in keys:
        rs = [r for r in recs if r["dataset"] == dataset and r["threads"] == threads]
        impls = []
        for r in rs:
            if r["impl"] not in impls:
                impls.append(r["impl"])
        print("\n### %s, %d thread%s" % (dataset, threads, "s" if threads > 1 else ""))
        print("| implementation | build s (min-max) | bytes/vector | q/s @0.90 | q/s @0.95 "
              "| q/s @0.99 | best recall |")
        print("|---|---|---|---|---|---|---|")
        summary = {}
        for impl in impls:
            b = [r for r in rs if r["impl"] == impl and r["phase"] == "build"]
            s = [r for r in rs if r["impl"] == impl and r["phase"] == "search"]
            if not b:
                continue
            b = b[-1]
            q = [qps_at(s, lv) for lv in LEVELS]
            if impl.endswith("flat"):
                q = [s[0]["qps"] if s[0]["recall"] >= lv else None for lv in LEVELS]
            summary[impl] = (b["build_s"], q)
            print("| %s | %.2f (%.2f-%.2f) | %.0f | %s | %s | %s | %.4f |" % (
                impl, b["build_s"], b["build_s_min"], b["build_s_max"],
                b["rss_bytes_per_vector"], fmt(q[0]), fmt(q[1]), fmt(q[2]),
                max(x["recall"] for x in s)))
        j = summary.get("junco-hnsw")
        for peer in ("hnswlib", "faiss-hnsw"):
            p = summary.get(peer)
            if not j or not p:
                continue
            ratios = []
            for a, c in zip(j[1], p[1]):
                ratios.append("-" if a is None or c is None else "%.2f" % (a / c))
            print("\njunco-hnsw vs %s: queries/s ratio at 0.90 / 0.95 / 0.99 = %s; "
                  "build time ratio (%s / junco) = %.2f" % (
                      peer, " / ".join(ratios), peer, p[0] / j[0]))


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "append":
        append(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif len(sys.argv) == 4 and sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
