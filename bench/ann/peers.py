#!/usr/bin/python3
"""The peer side of the ANN benchmark (bench/ann/run): hnswlib 0.6 and faiss
(HNSW and Flat) on the files that `bench_ann gen` wrote, measured exactly like
bench_ann measures junco: one timed build, then for each ef one warm-up and
`--repeat` timed runs (each repeats the batch search of all queries on
`--threads` threads until `--min-time` seconds passed); one JSON line per
setting (recall@k against gt.npy, median/min/max queries/s).

Before anything is timed, a sample of gt.npy is re-computed with numpy: the
ground truth junco computed must agree with an independent implementation.

Must run under /usr/bin/python3 (Debian's hnswlib and faiss load only there).
"""
import argparse
import json
import os
import sys
import time


def _threads_from_argv():
    for i, arg in enumerate(sys.argv[:-1]):
        if arg == "--threads":
            return sys.argv[i + 1]
    return "1"


# BLAS (used by faiss's exact search and numpy) gets exactly the benchmark's
# thread count; it must be set before numpy loads OpenBLAS. Without it,
# OpenBLAS threads on top of faiss's OpenMP threads oversubscribe the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv())
os.environ.setdefault("OMP_NUM_THREADS", _threads_from_argv())

import numpy as np  # noqa: E402


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def recall(found, gt):
    k = gt.shape[1]
    hit = 0
    for i in range(gt.shape[0]):
        hit += len(set(found[i, :k].tolist()) & set(gt[i].tolist()))
    return hit / gt.size


def check_ground_truth(base, query, gt, metric, sample=50):
    q = query[:sample].astype(np.float64)
    b = base.astype(np.float64)
    if metric == "cosine":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        score = -(np.sum(q * q, axis=1)[:, None] - 2 * q @ b.T + np.sum(b * b, axis=1)[None, :])
    else:
        score = q @ b.T
    k = gt.shape[1]
    agree = 0
    for i in range(q.shape[0]):
        top = np.argsort(-score[i], kind="stable")[:k]
        agree += len(set(top.tolist()) & set(gt[i].tolist()))
    frac = agree / (q.shape[0] * k)
    if frac < 0.999:
        sys.exit("ground truth disagrees with numpy: %.4f" % frac)
    return frac


def timed_searches(fn, nq, repeat, min_time):
    """One warm-up, then `repeat` timed runs; a run repeats the whole query
    set until min_time seconds have passed (as bench_ann does)."""
    out = fn()  # warm-up
    qps = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        passes = 0
        while True:
            out = fn()
            passes += 1
            t = time.perf_counter() - t0
            if t >= min_time:
                break
        qps.append(passes * nq / t)
    qps.sort()
    return out, qps


def emit(rec):
    print(json.dumps(rec), flush=True)


def run_hnswlib(a, base, query, gt, metric):
    import hnswlib
    space = {"l2": "l2", "cosine": "cosine", "ip": "ip"}[metric]
    n, dim = base.shape
    builds = []
    grow = None
    for _ in range(a.build_repeat):
        p = None
        r0 = rss_bytes()
        t0 = time.perf_counter()
        p = hnswlib.Index(space=space, dim=dim)
        p.init_index(max_elements=n, ef_construction=a.efc, M=a.m, random_seed=a.seed)
        p.set_num_threads(a.threads)
        p.add_items(base, np.arange(n), num_threads=a.threads)
        builds.append(time.perf_counter() - t0)
        if grow is None:  # later builds reuse freed memory: only the first counts
            grow = rss_bytes() - r0
    builds.sort()
    emit({"phase": "build", "impl": "hnswlib", "version": getattr(hnswlib, "__version__", "0.6.2"),
          "threads": a.threads, "n": n, "dim": dim, "metric": metric, "m": a.m, "efc": a.efc,
          "build_s": builds[len(builds) // 2], "build_s_min": builds[0], "build_s_max": builds[-1],
          "build_runs": len(builds), "rss_bytes_per_vector": grow / n})
    k = gt.shape[1]
    for ef in a.ef:
        p.set_ef(max(ef, k))
        (labels, _), qps = timed_searches(lambda: p.knn_query(query, k=k, num_threads=a.threads),
                                          len(query), a.repeat, a.min_time)
        emit({"phase": "search", "impl": "hnswlib", "threads": a.threads, "param": ef,
              "recall": recall(labels, gt), "qps": qps[len(qps) // 2], "qps_min": qps[0],
              "qps_max": qps[-1], "runs": a.repeat, "min_time": a.min_time})


def faiss_prepare(x, metric):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def run_faiss(a, base, query, gt, metric, kind):
    import faiss
    faiss.omp_set_num_threads(a.threads)
    n, dim = base.shape
    fm = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    xb = faiss_prepare(base, metric)
    xq = faiss_prepare(query, metric)
    builds = []
    grow = None
    for _ in range(a.build_repeat if kind == "hnsw" else 1):
        idx = None
        r0 = rss_bytes()
        t0 = time.perf_counter()
        if kind == "hnsw":
            idx = faiss.IndexHNSWFlat(dim, a.m, fm)
            idx.hnsw.efConstruction = a.efc
        else:
            idx = faiss.IndexFlat(dim, fm)
        idx.add(xb)
        builds.append(time.perf_counter() - t0)
        if grow is None:
            grow = rss_bytes() - r0
    builds.sort()
    name = "faiss-" + kind
    emit({"phase": "build", "impl": name, "version": faiss.__version__, "threads": a.threads,
          "n": n, "dim": dim, "metric": metric, "m": a.m, "efc": a.efc,
          "build_s": builds[len(builds) // 2], "build_s_min": builds[0],
          "build_s_max": builds[-1], "build_runs": len(builds),
          "rss_bytes_per_vector": grow / n})
    k = gt.shape[1]
    for ef in (a.ef if kind == "hnsw" else [0]):
        if kind == "hnsw":
            idx.hnsw.efSearch = max(ef, k)
        (_, labels), qps = timed_searches(lambda: idx.search(xq, k), len(xq), a.repeat,
                                          a.min_time)
        emit({"phase": "search", "impl": name, "threads": a.threads, "param": ef,
              "recall": recall(labels, gt), "qps": qps[len(qps) // 2], "qps_min": qps[0],
              "qps_max": qps[-1], "runs": a.repeat, "min_time": a.min_time})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--impl", choices=["hnswlib", "faiss-hnsw", "faiss-flat", "check"],
                    required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--ef", default="10,16,24,32,48,64,96,128,192,256,384,512")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--build-repeat", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    a.ef = [int(x) for x in a.ef.split(",")]
    meta = json.load(open(os.path.join(a.data, "meta.json")))
    base = np.load(os.path.join(a.data, "base.npy"))
    query = np.load(os.path.join(a.data, "query.npy"))
    gt = np.load(os.path.join(a.data, "gt.npy"))
    metric = meta["metric"]
    if a.impl == "check":
        emit({"phase": "check", "gt_agreement": check_ground_truth(base, query, gt, metric)})
    elif a.impl == "hnswlib":
        run_hnswlib(a, base, query, gt, metric)
    else:
        run_faiss(a, base, query, gt, metric, a.impl.split("-")[1])


if __name__ == "__main__":
    main()
