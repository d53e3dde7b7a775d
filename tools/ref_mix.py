#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ref_mix.py - NumPy reference of Mixture-UCB-CAB, written from shared/specs/mixture_ucb.md (sec. 2.1, 2.5),
for bench/run_mix.sh: one full CAB run (RKE, Gaussian kernel exp(-|x-y|^2/sigma^2), paper constants
Delta_L = 2, Delta_kappa = 1, beta = 1, one warm-up pull per arm, ridge 1e-8) on synthetic arms of the
same shape as bench/bench_mix.c (centre c_i ~ U[0, 0.5]^d, noise N(0, (0.1 + 0.03 i)^2)).

Per round: one matrix-vector product of the stored samples with the new one (the spec's "GEMV per
round"), kernel sums per arm with bincount, and the simplex QP solved exactly by enumerating supports
(KKT system per support, np.linalg.solve), the lowest feasible objective wins.

Usage: ref_mix.py [T] [m] [d]   prints: ms_total  RKE  frequencies
"""
import itertools
import sys
import time

import numpy as np


def simplex_qp(K, c):
    m = len(c)
    best, best_a = np.inf, None
    for k in range(1, m + 1):
        for A in itertools.combinations(range(m), k):
            A = list(A)
            M = np.zeros((k + 1, k + 1))
            M[:k, :k] = 2.0 * K[np.ix_(A, A)]
            M[:k, k] = 1.0
            M[k, :k] = 1.0
            rhs = np.concatenate([-c[A], [1.0]])
            try:
                z = np.linalg.solve(M, rhs)
            except np.linalg.LinAlgError:
                continue
            a = z[:k]
            if np.any(a < -1e-10):
                continue
            a = np.clip(a, 0.0, None)
            if a.sum() <= 0:
                continue
            full = np.zeros(m)
            full[A] = a / a.sum()
            v = full @ K @ full + c @ full
            if v < best:
                best, best_a = v, full
    return best_a


def cab_run(pools, T, sigma, rng, DL=2.0, Dk=1.0, beta=1.0, ridge=1e-8):
    m, d = len(pools), pools[0].shape[1]
    X = np.empty((T, d), dtype=np.float32)
    sq = np.empty(T)
    lab = np.empty(T, dtype=np.int64)
    S = np.zeros((m, m))
    n = np.zeros(m)
    used = [0] * m
    perms = [rng.permutation(len(p)) for p in pools]

    def update(b, t):
        x = pools[b][perms[b][used[b]]]
        used[b] += 1
        sx = float(x.astype(np.float64) @ x.astype(np.float64))
        if t > 0:
            d2 = np.maximum(sq[:t] + sx - 2.0 * (X[:t] @ x), 0.0)
            s = np.bincount(lab[:t], weights=np.exp(-d2 / sigma**2), minlength=m)
        else:
            s = np.zeros(m)
        S[b, :] += s
        S[:, b] += s
        S[b, b] += 1.0  # kappa(x, x); the 2 s_b is the sum of the two lines above
        X[t], sq[t], lab[t] = x, sx, b
        n[b] += 1

    t = 0
    for i in range(m):
        update(i, t)
        t += 1
    while t < T:
        Kh = S / np.outer(n, n) + ridge * np.eye(m)
        eps = DL * np.sqrt(beta * np.log(t) / (2 * n)) + Dk / n
        a = simplex_qp(Kh, -eps)
        b = rng.choice(m, p=a)
        update(b, t)
        t += 1
    return 1.0 / (S.sum() / T**2), n / T


def main():
    T = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    d = int(sys.argv[3]) if len(sys.argv) > 3 else 784
    rng = np.random.default_rng(1)
    pools = []
    for i in range(m):
        c = 0.5 * rng.random(d)
        pools.append((c + (0.1 + 0.03 * i) * rng.standard_normal((T, d))).astype(np.float32))
    t0 = time.perf_counter()
    rke, freq = cab_run(pools, T, 5.0, rng)
    ms = (time.perf_counter() - t0) * 1e3
    print("%.1f\t%.3f\t%s" % (ms, rke, ",".join("%.3f" % f for f in freq)))


if __name__ == "__main__":
    main()
