#!/usr/bin/python3
"""bench_python.py — genmix's Python API against the reference tools' computations written the way they
compute (tools/ref_eval_bench.py: prdc's compute_prdc with sklearn, pytorch-fid's sqrtm FD, the float64 KID
of clean-fid/NVIDIA; here also k-NN P/R with full distance matrices as torch-fidelity's PRC, and
Vendi-Score's score_dual), same data, same run, in one process. Prints "key value" lines, ratios
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
    t_g, g = timed(lambda: ge.kid(real, fake, profile="clean-fid", f32=False))
    t_r, (r, _) = timed(lambda: ref.kid_f64(real, fake))
    rows.append(("KID (float64, 100 x 1000)", t_r, t_g, abs(g["mean"] - r) / abs(r), 2.5))
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
