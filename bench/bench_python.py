#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_python.py — genmix's Python API against the reference tools' computations written the way they
compute (tools/ref_eval_bench.py: prdc's compute_prdc with sklearn, pytorch-fid's sqrtm FD; here also
torch-fidelity's FD (eigvals of S1 S2), its float32 KID and k-NN P/R with full distance matrices as its PRC,
and Vendi-Score's score_dual), same data, same run, in one process. Prints "key value" lines, ratios
(reference time / genmix time) and whether the numbers agree.
Usage: PYTHONPATH=BUILD/python bench_python.py N D   (synthetic float32 features, fixed seed)
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ref_eval_bench as ref  # noqa: E402

import genmix  # noqa: E402
import genmix.eval as ge  # noqa: E402


def pr_numpy(real, fake, k=3):
    """Improved P/R as torch-fidelity's PRC: float32 full distance matrices, k-th neighbour radius, <=."""
    def radii(x):
        return np.partition(ref.sqdist(x, x), k, axis=-1)[:, k]
    rr, rf = radii(real), radii(fake)
    d = ref.sqdist(real, fake)
    return (d <= rr[:, None]).any(0).mean(), (d <= rf[None, :]).any(1).mean()


def vendi_dual(x):
    """Vendi-Score score_dual (q = 1, cosine): eigenvalues of X_n^T X_n / n, Shannon entropy."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    w = np.linalg.eigvalsh(xn.T @ xn / len(x))
    w = w[w > 0]
    return float(np.exp(-(w * np.log(w)).sum()))


def fd_torch_fidelity(real, fake):
    """torch-fidelity's FD: float32 features, np.mean in float32, np.cov (float64), eigvals(S1 S2)."""
    def stats(x):
        return np.mean(x, axis=0), np.cov(x, rowvar=False)
    (mu1, s1), (mu2, s2) = stats(real), stats(fake)
    diff = mu1 - mu2
    tr = np.sum(np.sqrt(np.linalg.eigvals(s1.dot(s2)).astype("complex128")).real)
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * tr)


def kid_torch_fidelity(real, fake, subsets=100, m=1000, seed=2020):
    """torch-fidelity's KID: float32 numpy polynomial kernel (x y^T / d + 1)^3 and unbiased MMD per subset,
    subsets drawn by RandomState(seed).choice (generated first, then real)."""
    d = real.shape[1]
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        kxx = (x @ x.T / np.float32(d) + 1) ** 3
        kyy = (y @ y.T / np.float32(d) + 1) ** 3
        kxy = (x @ y.T / np.float32(d) + 1) ** 3
        sxx = (kxx.sum(axis=1) - np.diagonal(kxx)).sum()
        syy = (kyy.sum(axis=1) - np.diagonal(kyy)).sum()
        mmds[i] = (sxx + syy) / (m * (m - 1)) - 2 * kxy.sum(axis=0).sum() / (m * m)
    return float(mmds.mean())


def timed(fn, reps=1):
    best, out = 1e30, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    n, d = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(2024)
    real = rng.standard_normal((n, d), dtype=np.float32)
    fake = (rng.standard_normal((n, d), dtype=np.float32) * 1.05 + 0.02).astype(np.float32)
    print("# genmix %s Python API vs references: N=%d D=%d, %d cores, load %s" %
          (genmix.__version__, n, d, os.cpu_count(), open("/proc/loadavg").read().split()[0]))
    rows = []

    t_g, g = timed(lambda: ge.prdc(real, fake, 5, profile="prdc"))
    t_r, r = timed(lambda: ref.prdc_sklearn(real, fake))
    rows.append(("PRDC (compute_prdc, sklearn)", t_r, t_g, max(abs(g[k] - v) for k, v in
                 zip(("precision", "recall", "density", "coverage"), r)), 10.0))
    t_g, g = timed(lambda: ge.fd(real, fake))
    t_r, (r, _) = timed(lambda: ref.fd_sqrtm(real, fake))
    rows.append(("FD (pytorch-fid sqrtm)", t_r, t_g, abs(g - r) / abs(r), 3.0))
    t_g, g = timed(lambda: ge.fd(real, fake, profile="torch-fidelity"))
    t_r, r = timed(lambda: fd_torch_fidelity(real, fake))
    rows.append(("FD (torch-fidelity eigvals)", t_r, t_g, abs(g - r) / abs(r), 3.0))
    t_g, g = timed(lambda: ge.kid(real, fake, profile="torch-fidelity"))
    t_r, r = timed(lambda: kid_torch_fidelity(real, fake))
    rows.append(("KID (torch-fidelity, float32)", t_r, t_g, abs(g["mean"] - r) / abs(r), 2.5))
    t_g, g = timed(lambda: ge.pr(real, fake, 3, profile="torch-fidelity"))
    t_r, r = timed(lambda: pr_numpy(real, fake))
    rows.append(("P/R (k 3, <=, float32)", t_r, t_g, max(abs(g["precision"] - r[0]), abs(g["recall"] - r[1])), 5.0))
    t_g, g = timed(lambda: ge.vendi(fake))
    t_r, r = timed(lambda: vendi_dual(fake.astype(np.float64)))
    rows.append(("Vendi (score_dual)", t_r, t_g, abs(g - r) / abs(r), 1.5))

    print("\n%-30s %10s %10s %8s %10s %12s" % ("metric", "ref s", "genmix s", "ratio", "target", "max diff"))
    for name, tr, tg, diff, target in rows:
        print("%-30s %10.3f %10.3f %7.2fx %9.1fx %12.3g" % (name, tr, tg, tr / tg, target, diff))


if __name__ == "__main__":
    main()
