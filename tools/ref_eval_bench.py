#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ref_eval_bench.py — reference timings for bench/run_eval.sh, written the way the reference tools compute:

  prdc_sklearn  clovaai/generative-evaluation-prdc compute_prdc: sklearn pairwise_distances full matrices
                (n_jobs=8 as in prdc.py), np.partition radii, k = 5, strict <, input dtype float32
  prdc_numpy    the same with plain NumPy BLAS: d^2 = |x|^2 + |y|^2 - 2 X Y^T (float32 GEMM), full matrices
  fd_sqrtm      pytorch-fid: np.cov (float64) of both sets + scipy.linalg.sqrtm(S1 @ S2)   [and sqrtm alone]
  kid_f64       clean-fid / NVIDIA kernel_distance code in float64, 100 subsets of 1000, poly3 kernel
Usage: ref_eval_bench.py DIR N D  (reads DIR/real.f32, DIR/fake.f32 written by bench_eval data)
Prints "key value" lines.
"""
import sys
import time

import numpy as np
import scipy.linalg
from sklearn.metrics import pairwise_distances


def prdc_sklearn(real, fake, k=5):
    def radii(x):
        d = pairwise_distances(x, x, metric="euclidean", n_jobs=8)
        return np.partition(d, k, axis=-1)[:, :k + 1].max(axis=-1)
    rr, rf = radii(real), radii(fake)
    d = pairwise_distances(real, fake, metric="euclidean", n_jobs=8)
    p = (d < np.expand_dims(rr, 1)).any(axis=0).mean()
    r = (d < np.expand_dims(rf, 0)).any(axis=1).mean()
    dens = (1.0 / k) * (d < np.expand_dims(rr, 1)).sum(axis=0).mean()
    cov = (d.min(axis=1) < rr).mean()
    return p, r, dens, cov


def sqdist(x, y):
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * (x @ y.T)
    return np.maximum(d, 0)


def prdc_numpy(real, fake, k=5):
    def radii(x):
        return np.partition(sqdist(x, x), k, axis=-1)[:, k]
    rr, rf = radii(real), radii(fake)
    d = sqdist(real, fake)
    inside = d < rr[:, None]
    return (inside.any(0).mean(), (d < rf[None, :]).any(1).mean(), inside.sum(0).mean() / k,
            (d.min(1) < rr).mean())


def fd_sqrtm(real, fake):
    mu1, mu2 = real.mean(0, dtype=np.float64), fake.mean(0, dtype=np.float64)
    s1, s2 = np.cov(real.astype(np.float64), rowvar=False), np.cov(fake.astype(np.float64), rowvar=False)
    t0 = time.perf_counter()
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    t_sqrt = time.perf_counter() - t0
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)), t_sqrt


def kid_f64(real, fake, subsets=100, m=1000):
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    d = real.shape[1]
    rng = np.random.RandomState(2020)
    t = 0
    vals = []
    for _ in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        v = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
        t += v
        vals.append(v / m)
    return t / subsets / m, np.std(vals)


def main():
    dirn, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    real = np.fromfile(dirn + "/real.f32", dtype=np.float32).reshape(n, d)
    fake = np.fromfile(dirn + "/fake.f32", dtype=np.float32).reshape(n, d)
    skip = set(sys.argv[4].split(",")) if len(sys.argv) > 4 else set()
    a = np.ones((4096, 2048), np.float32)
    b = np.ones((4096, 2048), np.float32)  # distinct operands: a @ a.T would take NumPy's SYRK path
    best = 1e30
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b.T
        best = min(best, time.perf_counter() - t0)
    print("ref_sgemm_gflops %.1f" % (2 * 4096 * 4096 * 2048 / best / 1e9), flush=True)
    del a, b
    t0 = time.perf_counter()
    v = prdc_numpy(real, fake)
    print("ref_prdc_numpy_s %.3f" % (time.perf_counter() - t0))
    print("ref_prdc_numpy_values %.6f %.6f %.6f %.6f" % v, flush=True)
    if "sklearn" not in skip:
        t0 = time.perf_counter()
        v = prdc_sklearn(real, fake)
        print("ref_prdc_sklearn_s %.3f" % (time.perf_counter() - t0))
        print("ref_prdc_sklearn_values %.6f %.6f %.6f %.6f" % v, flush=True)
    t0 = time.perf_counter()
    fd, t_sqrt = fd_sqrtm(real, fake)
    print("ref_fd_s %.3f\nref_fd_sqrtm_s %.3f\nref_fd_value %.12g" % (time.perf_counter() - t0, t_sqrt, fd), flush=True)
    t0 = time.perf_counter()
    km, ks = kid_f64(real, fake)
    print("ref_kid_s %.3f\nref_kid_value %.12g %.6g" % (time.perf_counter() - t0, km, ks), flush=True)


if __name__ == "__main__":
    main()
