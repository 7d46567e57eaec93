#!/usr/bin/python3
"""EASE^R against its NumPy closed form (Steck 2019).

Reads an exported split (train + valid = the data the exported model was
fitted on) and junco's scores.f32 of `junco eval --export DIR --model ease`
(lambda = the model's default, 500 unless --lambda), computes
G = X^T X + lambda I, P = G^-1, B = I - P / diag(P) (B_jj = 0) and S = X B
in float64, and compares with junco's float32 scores on the modelled items
(items with at least one training user; the others must be -inf in junco).
Usage: ease_check.py SPLIT_DIR SCORES [--lambda L] [--tol T]"""
import argparse
import os
import struct
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("split")
ap.add_argument("scores")
ap.add_argument("--lambda", dest="lam", type=float, default=500.0)
ap.add_argument("--tol", type=float, default=2e-4)
a = ap.parse_args()
import json

man = json.load(open(os.path.join(a.split, "manifest.json")))
nu, ni = man["n_users"], man["n_items"]
pairs = np.vstack([np.loadtxt(os.path.join(a.split, f), dtype=np.int64, skiprows=1,
                              usecols=(0, 1), ndmin=2) for f in ("train.tsv", "valid.tsv")])
X = np.zeros((nu, ni))
X[pairs[:, 0], pairs[:, 1]] = 1.0
modelled = X.sum(axis=0) > 0
Xm = X[:, modelled]
G = Xm.T @ Xm + a.lam * np.eye(Xm.shape[1])
P = np.linalg.inv(G)
B = -P / np.diag(P)
np.fill_diagonal(B, 0.0)
S = Xm @ B
with open(a.scores, "rb") as f:
    hdr = f.read(64)
assert hdr[:8] == b"JCSCORE1"
_, snu, sni = struct.unpack("<III", hdr[8:20])
J = np.fromfile(a.scores, dtype="<f4", offset=64).reshape(snu, sni).astype(np.float64)
assert (snu, sni) == (nu, ni)
Jm = J[:, modelled]
scale = np.abs(S).max()
err = np.abs(Jm - S).max() / scale
rest_ok = bool(np.all(np.isneginf(J[:, ~modelled])))
print("EASE lambda %g: %d users x %d modelled items (of %d); max |junco - numpy| / max|S| = %.3g; "
      "unmodelled items -inf: %s" % (a.lam, nu, modelled.sum(), ni, err, rest_ok))
sys.exit(0 if err <= a.tol and rest_ok else 1)
