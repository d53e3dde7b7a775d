#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_python.py — genmix's Python API against the reference tools' computations written the way they
compute (tools/ref_eval_bench.py: prdc's compute_prdc with sklearn, pytorch-fid's sqrtm FD; here also
torch-fidelity's FD (eigvals of S1 S2), its float32 KID (NumPy, as metric_kid.py) and its PRC (torch.cdist
and kthvalue, as metric_prc.py with its defaults), and Vendi-Score's score_dual), same data, same run, in
one process. Each metric runs REPS times (default 3) with the genmix and reference calls interleaved, and
each side keeps its minimum, so a loaded machine slows both alike; the load average is printed before and
after. Torch gets every core (torch.set_num_threads(os.cpu_count())), as NumPy's BLAS and genmix do
(TORCH_THREADS overrides; Debian's torch may start with fewer, and its OpenMP setting is the process's:
genmix would run on that many threads too).
Prints the ratios (reference time / genmix time) and how far the numbers differ.
Usage: PYTHONPATH=BUILD/python bench_python.py N D   (synthetic float32 features, fixed seed)
Environment: REPS (repetitions, default 3), ONLY (comma list of prdc,fd,fdtf,kid,pr,vendi; default all),
TORCH_THREADS (default: every core).
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ref_eval_bench as ref  # noqa: E402

import genmix  # noqa: E402
import genmix.eval as ge  # noqa: E402


def prc_torch_fidelity(real, fake, k=3, batch=10000):
    """torch-fidelity's PRC with its defaults (save_cpu_ram False, batch 10000, k 3): float32 torch.cdist
    matrices assembled from batch x batch blocks, the radius of each point is its (k+1)-th smallest distance
    in its own set (kthvalue, the point itself counts), a fake is inside when its distance to some real is
    <= that real's radius (precision) and a real likewise for the fakes' radii (recall)."""
    import torch

    def full_cdist(a, b):
        return torch.cat([torch.cat([torch.cdist(x, y) for y in b.split(batch)], dim=1) for x in a.split(batch)])

    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    rad_r = full_cdist(r, r).kthvalue(k + 1).values
    rad_f = full_cdist(f, f).kthvalue(k + 1).values
    d_fr = full_cdist(f, r)
    precision = (d_fr <= rad_r).any(dim=1).float().mean().item()
    recall = (d_fr.T <= rad_f).any(dim=1).float().mean().item()
    return precision, recall


def vendi_dual(x):
    """Vendi-Score score_dual (q = 1, normalize=True): sklearn's row normalisation, S = X^T X,
    scipy.linalg.eigvalsh(S / n), exp of the Shannon entropy of the positive eigenvalues. Fed float64 rows
    here (genmix computes Vendi in float64; the tool keeps the input's dtype)."""
    import scipy.linalg
    from sklearn import preprocessing
    xn = preprocessing.normalize(x, axis=1)
    w = scipy.linalg.eigvalsh(xn.T @ xn / len(x))
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


def kid_torch_fidelity(real, fake, subsets=100, m=1000, seed=2020, degree=3, coef0=1):
    """torch-fidelity's KID (metric_kid.py, defaults): float32 NumPy features; per subset (rows drawn by one
    RandomState(seed).choice stream, generated first, then real) the three float32 kernel matrices
    (matmul * gamma + coef0) ** degree with gamma = 1.0 / d, then the unbiased MMD² from their row sums with
    the diagonals taken out; the mean over subsets in float64."""
    gamma = 1.0 / real.shape[1]
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)

    def kernel(a, b):
        return (np.matmul(a, b.T) * gamma + coef0) ** degree

    for i in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        off_xx = (kxx.sum(axis=1) - np.diagonal(kxx)).sum()
        off_yy = (kyy.sum(axis=1) - np.diagonal(kyy)).sum()
        mmd = (off_xx + off_yy) / (m * (m - 1))
        mmd -= 2 * kxy.sum(axis=0).sum() / (m * m)
        mmds[i] = mmd
    return float(np.mean(mmds))


def race(genmix_fn, ref_fn, reps):
    """Interleaved calls genmix, reference, genmix, ... (reps each); the minimum time of each side."""
    tg = tr = 1e30
    g = r = None
    for _ in range(reps):
        t0 = time.perf_counter()
        g = genmix_fn()
        tg = min(tg, time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = ref_fn()
        tr = min(tr, time.perf_counter() - t0)
    return tg, g, tr, r


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    n, d = int(sys.argv[1]), int(sys.argv[2])
    reps = int(os.environ.get("REPS", "3"))
    only = set(os.environ.get("ONLY", "prdc,fd,fdtf,kid,pr,vendi").split(","))
    try:
        import torch
        torch.set_num_threads(int(os.environ.get("TORCH_THREADS", os.cpu_count())))
    except ImportError:
        torch = None
    rng = np.random.default_rng(2024)
    real = rng.standard_normal((n, d), dtype=np.float32)
    fake = (rng.standard_normal((n, d), dtype=np.float32) * 1.05 + 0.02).astype(np.float32)
    print("# genmix %s Python API vs references: N=%d D=%d, %d cores, torch threads %s, best of %d interleaved "
          "runs, load average at start %s" % (genmix.__version__, n, d, os.cpu_count(),
                                              torch.get_num_threads() if torch else "-", reps, loadavg()))
    rows = []

    if "prdc" in only:
        tg, g, tr, r = race(lambda: ge.prdc(real, fake, 5, profile="prdc"), lambda: ref.prdc_sklearn(real, fake), reps)
        rows.append(("PRDC (compute_prdc, sklearn)", tr, tg, max(abs(g[k] - v) for k, v in
                     zip(("precision", "recall", "density", "coverage"), r)), 10.0))
    if "fd" in only:
        tg, g, tr, (r, _) = race(lambda: ge.fd(real, fake), lambda: ref.fd_sqrtm(real, fake), reps)
        rows.append(("FD (pytorch-fid sqrtm)", tr, tg, abs(g - r) / abs(r), 3.0))
    if "fdtf" in only:
        tg, g, tr, r = race(lambda: ge.fd(real, fake, profile="torch-fidelity"),
                            lambda: fd_torch_fidelity(real, fake), reps)
        rows.append(("FD (torch-fidelity eigvals)", tr, tg, abs(g - r) / abs(r), 3.0))
    if "kid" in only:
        m = min(1000, n)  # the tools' subset size; smaller sets (smoke runs) use all rows
        tg, g, tr, r = race(lambda: ge.kid(real, fake, profile="torch-fidelity", subset_size=m),
                            lambda: kid_torch_fidelity(real, fake, m=m), reps)
        rows.append(("KID (torch-fidelity, float32)", tr, tg, abs(g["mean"] - r) / abs(r), 2.5))
    if "pr" in only:
        if torch is None:
            print("P/R skipped: the reference needs torch (python3-torch)")
        else:
            tg, g, tr, r = race(lambda: ge.pr(real, fake, 3, profile="torch-fidelity"),
                                lambda: prc_torch_fidelity(real, fake), reps)
            # torch-fidelity's fractions are float32 means: compare genmix's rounded to float32
            rows.append(("P/R (torch-fidelity PRC)", tr, tg, max(abs(float(np.float32(g["precision"])) - r[0]),
                                                                 abs(float(np.float32(g["recall"])) - r[1])), 5.0))
    if "vendi" in only:
        tg, g, tr, r = race(lambda: ge.vendi(fake), lambda: vendi_dual(fake.astype(np.float64)), reps)
        rows.append(("Vendi (score_dual)", tr, tg, abs(g - r) / abs(r), 1.5))

    print("\n%-30s %10s %10s %8s %10s %12s" % ("metric", "ref s", "genmix s", "ratio", "target", "max diff"))
    for name, tr, tg, diff, target in rows:
        print("%-30s %10.3f %10.3f %7.2fx %9.1fx %12.3g" % (name, tr, tg, tr / tg, target, diff))
    print("# load average at end %s" % loadavg())


if __name__ == "__main__":
    main()
