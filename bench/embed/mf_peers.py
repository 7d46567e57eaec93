"""iALS and BPR written in NumPy (and BPR in PyTorch): the peers of `junco
embed --method ials|bpr`.

Input: train.tsv from `bench_embed export` (user id, item id of every
training positive of the temporal split). Output: item and user vectors in
the course's text format ("id:v1 v2 ...") that `bench_embed eval` scores
with junco's evaluator, and one JSON line with the training time.

Algorithms (same as src/embed/mf.c):
  ials  confidence 1 + alpha per positive; each sweep solves all users, then
        all items, with `cg` conjugate-gradient steps warm-started from the
        current factors (vectorised over rows with SciPy sparse products);
        init N(0, 0.01^2); float32.
  bpr   nnz triples per epoch: a uniformly random positive (u, i), j uniform
        among u's non-positives; SGD on -log sigmoid(x_u . (y_i - y_j)) with
        L2; the last component is an item bias (users hold 1 there).
        numpy: one sample at a time (exactly junco's algorithm);
        torch: mini-batches of 1024 triples, sparse embeddings + SGD on the
        summed loss (PyTorch's practical form of the same update).
  mf_peers.py METHOD IMPL TRAIN_TSV OUT_ITEMS OUT_USERS DIM EPOCHS ALPHA REG CG LR SEED THREADS
"""
import json
import sys
import time

import numpy as np
import scipy.sparse as sp

method, impl, train, out_i, out_u = sys.argv[1:6]
dim, epochs = int(sys.argv[6]), int(sys.argv[7])
alpha, reg = float(sys.argv[8]), float(sys.argv[9])
cg_steps, lr = int(sys.argv[10]), float(sys.argv[11])
seed, threads = int(sys.argv[12]), int(sys.argv[13])

users, items, pairs = {}, {}, set()
for line in open(train):
    u, i = line.rstrip("\n").split("\t")
    pairs.add((users.setdefault(u, len(users)), items.setdefault(i, len(items))))
pairs = np.array(sorted(pairs), dtype=np.int64)
nu, ni = len(users), len(items)
R = sp.csr_matrix((np.ones(len(pairs), np.float32), (pairs[:, 0], pairs[:, 1])), shape=(nu, ni))
rng = np.random.default_rng(seed)


def ials():
    c = np.float32(1.0 + alpha)
    X = (rng.standard_normal((nu, dim)) * 0.01).astype(np.float32)
    Y = (rng.standard_normal((ni, dim)) * 0.01).astype(np.float32)
    RT = R.T.tocsr()

    def solve(X, Y, M):
        coo = M.tocoo()
        rows, cols = coo.row, coo.col
        G = Y.T @ Y + np.float32(reg) * np.eye(dim, dtype=np.float32)

        def spmm(coef):  # sum over a row's positives of coef * y_col
            return sp.csr_matrix((coef, (rows, cols)), shape=M.shape) @ Y

        dots = np.einsum("ij,ij->i", X[rows], Y[cols])
        Rr = -(X @ G) + spmm(c - (c - 1) * dots)
        P = Rr.copy()
        rs = np.einsum("ij,ij->i", Rr, Rr)
        for _ in range(cg_steps):
            AP = P @ G + spmm((c - 1) * np.einsum("ij,ij->i", P[rows], Y[cols]))
            pap = np.einsum("ij,ij->i", P, AP)
            a = np.where((rs >= 1e-20) & (pap > 0), rs / np.where(pap > 0, pap, 1), 0).astype(np.float32)
            X += a[:, None] * P
            Rr -= a[:, None] * AP
            rsn = np.einsum("ij,ij->i", Rr, Rr)
            P = Rr + (np.where(rs > 0, rsn / np.where(rs > 0, rs, 1), 0)).astype(np.float32)[:, None] * P
            rs = rsn
        X[np.diff(M.indptr) == 0] = 0
        return X

    for _ in range(epochs):
        X = solve(X, Y, R)
        Y = solve(Y, X, RT)
    return X, Y


def bpr_numpy():
    X = ((rng.random((nu, dim)) - 0.5) / dim).astype(np.float32)
    Y = ((rng.random((ni, dim)) - 0.5) / dim).astype(np.float32)
    X[:, -1] = 1
    Y[:, -1] = 0
    pos = [set(R.indices[R.indptr[u]:R.indptr[u + 1]]) for u in range(nu)]
    rows, cols = pairs[:, 0], pairs[:, 1]
    n = len(pairs)
    for _ in range(epochs):
        ps = rng.integers(n, size=n)
        js = rng.integers(ni, size=n)
        for s in range(n):
            u, i, j = rows[ps[s]], cols[ps[s]], js[s]
            while j in pos[u]:
                j = rng.integers(ni)
            xu, yi, yj = X[u], Y[i], Y[j]
            d = yi - yj
            z = 1.0 / (1.0 + np.exp(xu @ d))
            xu_old = xu.copy()
            X[u, :-1] += lr * (z * d[:-1] - reg * xu[:-1])
            Y[i] += lr * (z * xu_old - reg * yi)
            Y[j] += lr * (-z * xu_old - reg * yj)
    return X, Y


def bpr_torch():
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    U = torch.nn.Embedding(nu, dim - 1, sparse=True)
    V = torch.nn.Embedding(ni, dim - 1, sparse=True)
    B = torch.nn.Embedding(ni, 1, sparse=True)
    with torch.no_grad():
        U.weight.uniform_(-0.5 / dim, 0.5 / dim)
        V.weight.uniform_(-0.5 / dim, 0.5 / dim)
        B.weight.zero_()
    opt = torch.optim.SGD(list(U.parameters()) + list(V.parameters()) + list(B.parameters()), lr=lr)
    keys = np.sort(pairs[:, 0] * ni + pairs[:, 1])
    n, bs = len(pairs), 1024
    for _ in range(epochs):
        for s in range(0, n, bs):
            m = min(bs, n - s)
            p = rng.integers(n, size=m)
            u, i = pairs[p, 0], pairs[p, 1]
            j = rng.integers(ni, size=m)
            while True:
                k = u * ni + j
                hit = keys[np.minimum(np.searchsorted(keys, k), len(keys) - 1)] == k
                if not hit.any():
                    break
                j[hit] = rng.integers(ni, size=int(hit.sum()))
            u, i, j = (torch.from_numpy(a) for a in (u, i, j))
            xu, yi, yj = U(u), V(i), V(j)
            bi, bj = B(i).squeeze(1), B(j).squeeze(1)
            x = (xu * (yi - yj)).sum(1) + bi - bj
            loss = -torch.nn.functional.logsigmoid(x).sum() + 0.5 * reg * (
                (xu * xu).sum() + (yi * yi).sum() + (yj * yj).sum() + (bi * bi).sum() + (bj * bj).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
    X = np.hstack([U.weight.detach().numpy(), np.ones((nu, 1), np.float32)])
    Y = np.hstack([V.weight.detach().numpy(), B.weight.detach().numpy()])
    return X, Y


t0 = time.perf_counter()
if method == "ials":
    X, Y = ials()
elif impl == "torch":
    X, Y = bpr_torch()
else:
    X, Y = bpr_numpy()
dt = time.perf_counter() - t0


def write(path, ids, M):
    with open(path, "w") as f:
        for ext, k in ids.items():
            f.write(ext + ":" + " ".join("%.9g" % v for v in M[k]) + "\n")


write(out_i, items, Y)
write(out_u, users, X)
print(json.dumps({"impl": impl, "method": method, "threads": threads, "seconds": dt,
                  "users": nu, "items": ni, "positives": len(pairs)}))
