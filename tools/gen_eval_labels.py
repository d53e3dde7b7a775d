#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen_eval_labels.py — per-class Vendi fixture for `genmix eval --labels` (tests/cli_eval.sh).

Writes tests/golden/eval_labels.npy (int64, one class in {0, 1, 2, 5} per row of eval_fake.npy) and
tests/golden/eval_labels_ref.txt: the Vendi score (cosine kernel, q = 1: exp of the Shannon entropy of the
eigenvalues of K/n, only positive ones) of each class and the unweighted mean over classes.
Run: /usr/bin/python3 tools/gen_eval_labels.py
"""
import numpy as np

X = np.load("tests/golden/eval_fake.npy").astype(np.float64)
lab = np.array([(i * 7 + i // 5) % 4 for i in range(len(X))], dtype=np.int64)
lab[lab == 3] = 5
np.save("tests/golden/eval_labels.npy", lab)


def vendi(x):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    w = np.linalg.eigvalsh(x @ x.T / len(x))
    w = w[w > 0]
    return float(np.exp(-(w * np.log(w)).sum()))


vals = {int(c): vendi(X[lab == c]) for c in np.unique(lab)}
with open("tests/golden/eval_labels_ref.txt", "w") as f:
    for c, v in vals.items():
        f.write("vendi_class_%d %.15g\n" % (c, v))
    f.write("vendi_per_class_mean %.15g\n" % np.mean(list(vals.values())))
print(open("tests/golden/eval_labels_ref.txt").read())
