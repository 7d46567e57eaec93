#!/usr/bin/python3
"""PyTorch peer of junco's ranking models (bench/nn/).

Reads the arrays `bench_nn export` wrote (the finished rows junco trains on)
and trains the same architectures with the same hyperparameters and
initialisation scheme as src/model/zoo.c:
  - one embedding table per vocabulary, shared by the fields of that
    vocabulary; multi-slot fields mean-pooled over non-padding ids (id 0);
    embeddings N(0, 0.05), linear (first-order) weights 0;
  - network input ordered [user/context fields, user numbers, item fields,
    item numbers];
  - hidden layers He-normal (fan_in) + zero bias, output layers Xavier-uniform;
  - Adam (PyTorch formulation), lr and batch as given; embedding tables use
    sparse gradients + SparseAdam when --sparse (the faster setting here),
    else dense Adam; BCE with logits, mean over the batch;
  - exactly `epochs` epochs over a seeded shuffle, the last epoch's model.
Prints one JSON line: test AUC/logloss (scikit-learn), training samples/s,
and the latency of scoring 1 user x 500 candidates (p50/p99, no_grad).

Usage: torch_models.py EXPORT_DIR MODEL SEED THREADS EPOCHS BATCH LR [--sparse]
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import log_loss, roc_auc_score

CAT, MULTI, NUM, SEQ = 1, 2, 3, 4
ITEM = 1


def load(d):
    L = json.load(open(f"{d}/layout.json"))
    data = {}
    for sp in ("train", "valid", "test"):
        n = L["splits"][sp]["rows"]
        data[sp] = dict(
            label=np.fromfile(f"{d}/{sp}.label.f32", dtype=np.float32),
            cat=np.fromfile(f"{d}/{sp}.cat.u32", dtype=np.uint32).astype(np.int64).reshape(n, L["n_cat"]),
            num=np.fromfile(f"{d}/{sp}.num.f32", dtype=np.float32).reshape(n, max(L["n_num"], 0)),
        )
    return L, data


def he(lin):
    nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu")
    nn.init.zeros_(lin.bias)


def xavier(lin):
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)


class MLP(nn.Module):
    """in -> hidden (act) [-> out linear]"""

    def __init__(self, d_in, hidden, out, act="relu"):
        super().__init__()
        self.layers = nn.ModuleList()
        self.acts = nn.ModuleList()
        d = d_in
        for h in hidden:
            lin = nn.Linear(d, h)
            he(lin)
            self.layers.append(lin)
            self.acts.append(nn.PReLU(h, init=0.25) if act == "prelu" else nn.ReLU())
            d = h
        self.out = None
        if out:
            self.out = nn.Linear(d, out)
            xavier(self.out)
        self.d_out = out if out else d

    def forward(self, x):
        for lin, a in zip(self.layers, self.acts):
            x = a(lin(x))
        return self.out(x) if self.out is not None else x


class Input(nn.Module):
    """The embedded input of junco (src/model/input.c)."""

    def __init__(self, L, dim, prefix_tables, skip=-1, with_num=True, sparse=False, init=0.05):
        super().__init__()
        self.dim = dim
        self.fields, self.nums = [], []
        self.n_fu = self.n_nu = 0
        used = {}
        for p in (0, 1):
            for i, f in enumerate(L["fields"]):
                if i == skip or f["kind"] == NUM or ((f["side"] == ITEM) != (p == 1)):
                    continue
                v = f["vocab"]
                if v not in used:
                    used[v] = len(used)
                self.fields.append((f["offset"], f["width"], used[v]))
                self.n_fu += p == 0
            if with_num:
                for f in L["fields"]:
                    if f["kind"] == NUM and ((f["side"] == ITEM) == (p == 1)):
                        self.nums.append(f["offset"])
                        self.n_nu += p == 0
            if p == 0:
                self.ku = self.n_fu * dim + self.n_nu
        inv = {i: v for v, i in used.items()}
        self.tables = nn.ModuleList()
        for i in range(len(used)):
            t = nn.EmbeddingBag(L["vocabs"][inv[i]]["size"], dim, mode="mean", padding_idx=0, sparse=sparse)
            if init:
                nn.init.normal_(t.weight, 0, init)
            else:
                nn.init.zeros_(t.weight)
            self.tables.append(t)
        self.width = len(self.fields) * dim + len(self.nums)
        self.vocab_index = used

    def embed(self, cat):
        """list of [n x dim] field vectors (user fields first)"""
        return [self.tables[t](cat[:, o:o + w]) for (o, w, t) in self.fields]

    def forward(self, cat, num):
        E = self.embed(cat)
        nu = self.n_fu
        parts = E[:nu]
        if self.nums:
            parts.append(num[:, self.nums[:self.n_nu]])
        parts += E[nu:]
        if self.nums:
            parts.append(num[:, self.nums[self.n_nu:]])
        return torch.cat(parts, 1), E


class Lin(nn.Module):
    def __init__(self, L, sparse):
        super().__init__()
        self.inp = Input(L, 1, "lin.", sparse=sparse, init=0)
        self.w = nn.Parameter(torch.zeros(len(self.inp.nums)))
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, cat, num):
        E = self.inp.embed(cat)
        s = torch.stack(E, 0).sum(0).squeeze(1) + self.b
        if self.inp.nums:
            s = s + num[:, self.inp.nums] @ self.w
        return s


def cross_hash(pair, a, b, mask):
    z = (np.uint64(pair) << np.uint64(58)) ^ (a.astype(np.uint64) << np.uint64(29)) ^ b.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z & np.uint64(0xFFFFFFFF)).astype(np.int64) & mask


class Model(nn.Module):
    def __init__(self, kind, L, dim=16, hidden=(128, 64), sparse=False):
        super().__init__()
        self.kind = kind
        self.sparse = sparse
        F_ = L["fields"]
        self.L = L
        if kind in ("lr", "fm", "widedeep", "deepfm"):
            self.lin = Lin(L, sparse)
        if kind in ("fm", "mlp", "widedeep", "deepfm", "twotower", "dcn"):
            self.inp = Input(L, dim, "emb.", sparse=sparse)
        if kind in ("fm", "deepfm"):
            self.numv = nn.Parameter(torch.randn(len(self.inp.nums), dim) * 0.05)
        if kind in ("mlp", "widedeep", "deepfm"):
            self.deep = MLP(self.inp.width, hidden, 1)
        if kind == "widedeep":
            self.pairs = []
            for a, fa in enumerate(F_):
                if fa["side"] != ITEM or fa["kind"] not in (CAT, MULTI):
                    continue
                for b, fb in enumerate(F_):
                    if fb["side"] == ITEM or fb["kind"] == NUM or fb["vocab"] != fa["vocab"]:
                        continue
                    self.pairs.append((fa, fb))
            self.cross = nn.EmbeddingBag(1 << 18, 1, mode="sum", sparse=sparse)
            nn.init.zeros_(self.cross.weight)
        if kind == "neumf":
            self.gin = Input(L, dim, "gmf.", with_num=False, sparse=sparse)
            self.inp = Input(L, dim, "mlp.", sparse=sparse)
            self.deep = MLP(self.inp.width, hidden, 0)
            self.out = nn.Linear(dim + self.deep.d_out, 1)
            xavier(self.out)
        if kind == "twotower":
            self.mu = MLP(self.inp.ku, (128,), 32)
            self.mi = MLP(self.inp.width - self.inp.ku, (128,), 32)
            self.b = nn.Parameter(torch.zeros(1))
        if kind == "din":
            fs = fq = None
            for s, f in enumerate(F_):
                if f["kind"] == SEQ and f["side"] != ITEM and fs is None:
                    for q, g in enumerate(F_):
                        if g["kind"] == CAT and g["side"] == ITEM and g["vocab"] == f["vocab"]:
                            fs, fq = s, q
                            break
            self.fs, self.fq = fs, fq
            self.inp = Input(L, dim, "emb.", skip=fs, sparse=sparse)
            self.kq = [i for i, (o, w, t) in enumerate(self.inp.fields) if o == F_[fq]["offset"]][0]
            self.tq = self.inp.fields[self.kq][2]
            self.att = MLP(4 * dim, (36,), 1, act="prelu")
            self.deep = MLP(self.inp.width + dim, hidden, 1, act="prelu")
        if kind == "dcn":
            w = self.inp.width
            self.cross_layers = nn.ModuleList([nn.Linear(w, w) for _ in range(2)])
            for c in self.cross_layers:
                xavier(c)
            self.deep = MLP(w, hidden, 0)
            self.out = nn.Linear(w + self.deep.d_out, 1)
            xavier(self.out)

    def prepare(self, cat):
        """precomputed per-row inputs (Wide&Deep crossed buckets)"""
        if self.kind != "widedeep":
            return None
        cols, wts = [], []
        for p, (fa, fb) in enumerate(self.pairs):
            for x in range(fa["width"]):
                a = cat[:, fa["offset"] + x]
                for y in range(fb["width"]):
                    b = cat[:, fb["offset"] + y]
                    cols.append(cross_hash(p, a, b, (1 << 18) - 1))
                    wts.append(((a != 0) & (b != 0)).astype(np.float32))
        return np.stack(cols, 1), np.stack(wts, 1)

    def fm(self, E, num):
        V = list(E)
        if self.inp.nums:
            x = num[:, self.inp.nums]
            V += [x[:, j:j + 1] * self.numv[j] for j in range(len(self.inp.nums))]
        V = torch.stack(V, 1)
        S = V.sum(1)
        return 0.5 * (S * S - (V * V).sum(1)).sum(1)

    def forward(self, cat, num, extra=None):
        k = self.kind
        if k == "lr":
            return self.lin(cat, num)
        if k == "fm":
            X, E = self.inp(cat, num)
            return self.lin(cat, num) + self.fm(E, num)
        if k in ("mlp", "widedeep", "deepfm"):
            X, E = self.inp(cat, num)
            z = self.deep(X).squeeze(1)
            if k != "mlp":
                z = z + self.lin(cat, num)
            if k == "deepfm":
                z = z + self.fm(E, num)
            if k == "widedeep":
                idx, w = extra
                z = z + self.cross(idx, per_sample_weights=w).squeeze(1)
            return z
        if k == "neumf":
            E = self.gin.embed(cat)
            nu = self.gin.n_fu
            u = torch.stack(E[:nu], 0).mean(0)
            v = torch.stack(E[nu:], 0).mean(0)
            X, _ = self.inp(cat, num)
            h = self.deep(X)
            return self.out(torch.cat([u * v, h], 1)).squeeze(1)
        if k == "twotower":
            X, _ = self.inp(cat, num)
            u = self.mu(X[:, :self.inp.ku])
            v = self.mi(X[:, self.inp.ku:])
            return (u * v).sum(1) + self.b
        if k == "din":
            X, E = self.inp(cat, num)
            q = E[self.kq]
            f = self.L["fields"][self.fs]
            ids = cat[:, f["offset"]:f["offset"] + f["width"]]
            mask = (ids != 0).float()
            K = F.embedding(ids, self.inp.tables[self.tq].weight, sparse=self.sparse)
            K = K * mask.unsqueeze(2)  # [n, T, d], padding keys are zero (as junco)
            Q = q.unsqueeze(1).expand_as(K)
            n, T, dd = K.shape
            A = torch.cat([Q, K, Q - K, Q * K], 2).reshape(n * T, 4 * dd)
            a = self.att(A).reshape(n, T)
            a = a * mask
            interest = (a.unsqueeze(2) * K).sum(1)
            return self.deep(torch.cat([X, interest], 1)).squeeze(1)
        if k == "dcn":
            X, _ = self.inp(cat, num)
            x = X
            for c in self.cross_layers:
                x = X * c(x) + x
            h = self.deep(X)
            return self.out(torch.cat([x, h], 1)).squeeze(1)
        raise ValueError(k)


def main():
    a = sys.argv[1:]
    d, kind, seed, threads, epochs, batch, lr = a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), float(a[6])
    sparse = "--sparse" in a
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    L, data = load(d)
    m = Model(kind, L, sparse=sparse)
    lr_lin = lr
    if sparse:
        sp = [p for n, p in m.named_parameters() if isinstance(dict(m.named_modules()).get(n.rsplit(".", 1)[0]), nn.EmbeddingBag)]
        ids = {id(p) for p in sp}
        dense = [p for p in m.parameters() if id(p) not in ids]
        opts = [torch.optim.SparseAdam(sp, lr=lr), torch.optim.Adam(dense, lr=lr)]
    else:
        opts = [torch.optim.Adam(m.parameters(), lr=lr)]
    tr = data["train"]
    cat = torch.from_numpy(tr["cat"])
    num = torch.from_numpy(tr["num"])
    y = torch.from_numpy(tr["label"])
    extra_all = m.prepare(tr["cat"])
    if extra_all is not None:
        extra_all = (torch.from_numpy(extra_all[0]), torch.from_numpy(extra_all[1]))
    n = len(y)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    m.train()
    for ep in range(epochs):
        perm = torch.from_numpy(rng.permutation(n))
        for b0 in range(0, n, batch):
            idx = perm[b0:b0 + batch]
            ex = (extra_all[0][idx], extra_all[1][idx]) if extra_all is not None else None
            z = m(cat[idx], num[idx], ex)
            loss = F.binary_cross_entropy_with_logits(z, y[idx])
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o in opts:
                o.step()
    train_s = time.perf_counter() - t0
    m.eval()
    te = data["test"]
    ex = m.prepare(te["cat"])
    if ex is not None:
        ex = (torch.from_numpy(ex[0]), torch.from_numpy(ex[1]))
    with torch.no_grad():
        tcat = torch.from_numpy(te["cat"])
        tnum = torch.from_numpy(te["num"])
        p = torch.sigmoid(m(tcat, tnum, ex)).numpy().astype(np.float64)
    auc = roc_auc_score(te["label"], p)
    ll = log_loss(te["label"], np.clip(p, 1e-15, 1 - 1e-15))
    # serving latency: 1 user x 500 candidates, one thread
    torch.set_num_threads(1)
    N, REQ = 500, 300
    user_cols = []
    for f in L["fields"]:
        if f["side"] != ITEM:
            user_cols.append(f)
    lat = []
    nt = len(te["label"])
    with torch.no_grad():
        for r in range(REQ + 1):
            u = (r * 7919) % nt
            its = [(r * 104729 + i * 31) % nt for i in range(N)]
            c = te["cat"][its].copy()
            x = te["num"][its].copy()
            for f in user_cols:
                if f["kind"] == NUM:
                    x[:, f["offset"]] = te["num"][u, f["offset"]]
                else:
                    c[:, f["offset"]:f["offset"] + f["width"]] = te["cat"][u, f["offset"]:f["offset"] + f["width"]]
            t1 = time.perf_counter()
            e = m.prepare(c)
            if e is not None:
                e = (torch.from_numpy(e[0]), torch.from_numpy(e[1]))
            torch.sigmoid(m(torch.from_numpy(c), torch.from_numpy(x), e))
            if r > 0:
                lat.append((time.perf_counter() - t1) * 1e3)
    lat.sort()
    print(json.dumps(dict(impl="pytorch" + ("-sparse" if sparse else ""), model=kind, seed=seed, threads=threads,
                          epochs=epochs, batch=batch, lr=lr, test_auc=auc, test_logloss=ll,
                          train_seconds=train_s, samples_per_sec=n * epochs / train_s,
                          latency_p50_ms=lat[len(lat) // 2], latency_p99_ms=lat[int(len(lat) * 0.99)],
                          candidates=N, torch=torch.__version__)))


if __name__ == "__main__":
    main()
