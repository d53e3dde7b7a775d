#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""moe_digits_csv.py — the real-data example of docs/moe.md: the UCI optical digits shipped by Debian's
python3-sklearn (sklearn/datasets/data/digits.csv.gz, 1797 images 8x8, 10 classes), reduced to a few
principal components (fitted on the training rows), written as CSVs for `genmix moe fit/predict`.

usage: /usr/bin/python3 tools/moe_digits_csv.py OUTDIR [N_COMPONENTS]
writes OUTDIR/digits_train.csv (first 1200 rows) and OUTDIR/digits_test.csv (remaining 597 rows),
columns pc1..pcD,digit."""
import gzip
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "."
d = int(sys.argv[2]) if len(sys.argv) > 2 else 4
path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
with gzip.open(path, "rt") as f:
    data = np.loadtxt(f, delimiter=",")
X, y = data[:, :-1], data[:, -1].astype(int)
ntr = 1200
mu = X[:ntr].mean(axis=0)
_, _, vt = np.linalg.svd(X[:ntr] - mu, full_matrices=False)
Z = (X - mu) @ vt[:d].T
Z /= Z[:ntr].std(axis=0)  # unit variance on the training rows
os.makedirs(out, exist_ok=True)
header = ",".join([f"pc{j + 1}" for j in range(d)] + ["digit"])
for name, sl in (("train", slice(0, ntr)), ("test", slice(ntr, None))):
    rows = np.column_stack([Z[sl], y[sl]])
    np.savetxt(os.path.join(out, f"digits_{name}.csv"), rows, delimiter=",", header=header, comments="",
               fmt=["%.10g"] * d + ["%d"])
print(f"wrote {out}/digits_train.csv ({ntr} rows) and digits_test.csv ({len(y) - ntr} rows), {d} components")
