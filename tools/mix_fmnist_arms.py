#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mix_fmnist_arms.py - Fashion-MNIST class-subset "generators" for `genmix mix` (spec mixture_ucb.md §6.2).
Raw pixels / 255 (d = 784). Arms: A = {0,1,2}, B = {3,4,5}, C = {6,7}, D = {8,9}, E = {0}, each a
class-stratified pool of N images from the train set; reference: 300 train images per class, disjoint
from the pools. The reference equals 0.3A + 0.3B + 0.2C + 0.2D, so the KID optimum is (0.3,0.3,0.2,0.2,0).
Usage: mix_fmnist_arms.py OUTDIR [N=3000] [DIR=/usr/share/datasets/fashion-mnist]"""
import gzip
import os
import sys

import numpy as np

out = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
d = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"
with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
    img = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0
with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
    lab = np.frombuffer(f.read(), np.uint8, offset=8)
os.makedirs(out, exist_ok=True)
by = [np.flatnonzero(lab == c) for c in range(10)]
np.save(os.path.join(out, "ref.npy"), np.concatenate([img[by[c][:300]] for c in range(10)]))
for name, cls in [("A", [0, 1, 2]), ("B", [3, 4, 5]), ("C", [6, 7]), ("D", [8, 9]), ("E", [0])]:
    k = N // len(cls)
    rows = np.concatenate([by[c][300:300 + k] for c in cls])
    np.save(os.path.join(out, "arm_%s.npy" % name), img[rows])
