#!/usr/bin/python3
"""NumPy reference evaluator for junco's top-N protocols.

Reads an exported split (manifest.json + train/valid/test.tsv, see
`junco eval --export`) and a score file (scores.f32: 64-byte header +
row-major float32) and computes, independently of junco, the metrics of
include/junco/rankmetrics.h: precision, recall, ndcg, map, mrr, hit at each
K, coverage, gini, novelty at each K, and the recall-layer hit rate at each
N (full ranking), or the sampled metrics using negatives.tsv.

Rules shared with junco (so the numbers must agree to 1e-6):
  * known items = train + valid, targets = test; users need a target and a
    known item; known items are excluded from the ranking;
  * order = (score desc, item id asc); NaN counts as -inf;
  * sampled: rank = #negatives with a higher score + #equal with a lower id.

Usage: ref_eval.py --split DIR --scores FILE [--k 10,20,50]
                   [--recall-n 100,200,500] [--sampled NEGATIVES.tsv]
                   [--time] [--repeat N]
Prints the metrics as JSON ({"users":..., "metrics": {...}}).
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import time

import numpy as np


def load_split(d):
    man = json.load(open(os.path.join(d, "manifest.json")))
    assert man["format"] == "junco-split", "not a junco split"
    parts = {}
    for name in ("train", "valid", "test"):
        path = os.path.join(d, name + ".tsv")
        data = open(path, "rb").read()
        want = man["files"][name + ".tsv"]["sha256"]
        got = hashlib.sha256(data).hexdigest()
        assert got == want, "%s: sha256 %s != manifest %s" % (path, got, want)
        a = np.loadtxt(path, dtype=np.int64, skiprows=1, usecols=(0, 1), ndmin=2)
        parts[name] = a
    return man["n_users"], man["n_items"], parts


def load_scores(path):
    with open(path, "rb") as f:
        hdr = f.read(64)
    assert hdr[:8] == b"JCSCORE1", "bad magic"
    version, nu, ni = struct.unpack("<III", hdr[8:20])
    assert version == 1
    s = np.fromfile(path, dtype="<f4", offset=64)
    assert s.size == nu * ni, "truncated score file"
    return s.reshape(nu, ni)


def csr(pairs, nu):
    order = np.lexsort((pairs[:, 1], pairs[:, 0])) if len(pairs) else np.zeros(0, int)
    p = pairs[order]
    off = np.zeros(nu + 1, dtype=np.int64)
    np.add.at(off, p[:, 0] + 1, 1)
    return np.cumsum(off), p[:, 1]


def topl(S, L):
    """Top-L item ids per row of S by (score desc, id asc), exact on ties."""
    b, n = S.shape
    L = min(L, n)
    part = np.argpartition(-S, L - 1, axis=1)[:, :L]
    vals = np.take_along_axis(S, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    kth = np.take_along_axis(vals, order, axis=1)[:, -1]
    # rows where ties straddle the boundary: redo them exactly
    ge = (S >= kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(ge > L):
        idx = np.flatnonzero(S[r] >= kth[r])
        o = np.lexsort((idx, -S[r, idx]))
        top[r] = idx[o][:L]
    return top


def full_metrics(nu, ni, parts, scores, ks, ns, batch=256):
    koff, kit = csr(np.vstack([parts["train"], parts["valid"]]), nu)
    toff, tit = csr(parts["test"], nu)
    nk = np.diff(koff)
    nt = np.diff(toff)
    users = np.flatnonzero((nt > 0) & (nk > 0))
    L = max(list(ks) + list(ns))
    disc = 1.0 / np.log2(np.arange(L) + 2.0)
    cdisc = np.cumsum(disc)
    sums = {}
    lists = []
    found = np.zeros(len(ns))
    # item popularity over users with known items (novelty)
    users_known = int((nk > 0).sum())
    item_users = np.bincount(kit, minlength=ni)
    self_info = -np.log2(np.maximum(item_users, 1) / users_known)
    nov = np.zeros(len(ks))
    for b0 in range(0, len(users), batch):
        us = users[b0:b0 + batch]
        S = scores[us].astype(np.float32, copy=True)
        S[np.isnan(S)] = -np.inf
        rows = np.repeat(np.arange(len(us)), nk[us])
        cols = np.concatenate([kit[koff[u]:koff[u + 1]] for u in us])
        S[rows, cols] = -np.inf
        masked = np.zeros(S.shape, dtype=bool)
        masked[rows, cols] = True
        top = topl(S, L)
        T = np.zeros(S.shape, dtype=bool)
        trows = np.repeat(np.arange(len(us)), nt[us])
        tcols = np.concatenate([tit[toff[u]:toff[u + 1]] for u in us])
        T[trows, tcols] = True
        # known items never count (they are excluded from the ranking)
        valid_top = ~np.take_along_axis(masked, top, axis=1)
        hits = np.take_along_axis(T, top, axis=1) & valid_top
        nrel = nt[us].astype(np.float64)
        for ki, K in enumerate(ks):
            h = hits[:, :K].astype(np.float64)
            nh = h.sum(axis=1)
            first = np.argmax(h, axis=1)
            ideal = np.minimum(nrel, K).astype(int)
            dcg = (h * disc[:K]).sum(axis=1)
            idcg = cdisc[ideal - 1]
            prec_at = np.cumsum(h, axis=1) / np.arange(1, K + 1)
            ap = (prec_at * h).sum(axis=1) / ideal
            m = {
                "precision": nh / K,
                "recall": nh / nrel,
                "hit": (nh > 0).astype(np.float64),
                "mrr": np.where(nh > 0, 1.0 / (first + 1), 0.0),
                "ndcg": dcg / idcg,
                "map": ap,
            }
            for name, v in m.items():
                key = "%s@%d" % (name, K)
                sums[key] = sums.get(key, 0.0) + float(v.sum())
            nov[ki] += float(self_info[top[:, :K]].mean(axis=1).sum())
        for j, N in enumerate(ns):
            found[j] += float(hits[:, :N].sum())
        lists.append(top[:, :max(ks)])
    n = len(users)
    out = {k: v / n for k, v in sums.items()}
    allk = np.vstack(lists) if lists else np.zeros((0, max(ks)), int)
    for ki, K in enumerate(ks):
        c = np.bincount(allk[:, :K].ravel(), minlength=ni).astype(np.float64)
        out["coverage@%d" % K] = float((c > 0).sum()) / ni
        cs = np.sort(c)
        i = np.arange(1, ni + 1)
        out["gini@%d" % K] = float(((2 * i - ni - 1) * cs).sum() / (ni * cs.sum()))
        out["novelty@%d" % K] = nov[ki] / n
    total = float(nt[users].sum())
    for j, N in enumerate(ns):
        out["recall_hit@%d" % N] = found[j] / total
    return n, out


def sampled_metrics(scores, neg_path, ks):
    sums = {}
    n = 0
    users = set()
    with open(neg_path) as f:
        next(f)
        for line in f:
            u, t, negs = line.rstrip("\n").split("\t")
            u, t = int(u), int(t)
            negs = np.array([int(x) for x in negs.split(",")], dtype=np.int64)
            s = scores[u].astype(np.float32)
            s = np.where(np.isnan(s), -np.inf, s)
            st = s[t]
            sn = s[negs]
            rank = int((sn > st).sum() + ((sn == st) & (negs < t)).sum())
            for K in ks:
                hit = rank < K
                m = {
                    "precision": hit / K,
                    "recall": float(hit),
                    "hit": float(hit),
                    "mrr": 1.0 / (rank + 1) if hit else 0.0,
                    "ndcg": 1.0 / np.log2(rank + 2) if hit else 0.0,
                    "map": 1.0 / (rank + 1) if hit else 0.0,
                }
                for name, v in m.items():
                    key = "%s@%d" % (name, K)
                    sums[key] = sums.get(key, 0.0) + v
            n += 1
            users.add(u)
    return len(users), {k: v / n for k, v in sums.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--k", default="10,20,50")
    ap.add_argument("--recall-n", default="100,200,500")
    ap.add_argument("--sampled", default=None, help="negatives.tsv of loo-sampled")
    ap.add_argument("--time", action="store_true", help="report evaluation seconds on stderr")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    ks = [int(x) for x in a.k.split(",")]
    ns = [int(x) for x in a.recall_n.split(",")] if a.recall_n else []
    nu, ni, parts = load_split(a.split)
    scores = load_scores(a.scores)
    assert scores.shape == (nu, ni), "score shape %s != split %dx%d" % (scores.shape, nu, ni)
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        if a.sampled:
            n, m = sampled_metrics(scores, a.sampled, ks)
        else:
            n, m = full_metrics(nu, ni, parts, scores, ks, ns)
        times.append(time.perf_counter() - t0)
    if a.time:
        print("ref_eval: %d users, seconds %s" % (n, " ".join("%.4f" % t for t in times)),
              file=sys.stderr)
    json.dump({"users": n, "seconds": times, "metrics": m}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
