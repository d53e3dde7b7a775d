#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Population-level identifiability of an over-specified Voronoi cell in the softmax-gated
multinomial-logistic MoE (docs/moe.md, "Why the slow rate cannot be seen at reachable n").

For a true model G* with k* = 2 experts (d = 1) and a fitted model G with 3 experts, two fitted atoms
share the cell of true expert j (the one whose slopes vanish in Regime 2). For each cell error

    eps^2 = sum_{i in cell} w_i (|beta1_i - beta1*_j|^2 + |a_i - a*_j|^2),   w_i = in-cell gate weights,

the script finds the smallest population chi-square divergence

    m(eps) = min_G  E_x sum_s (p_G(s|x) - p*(s|x))^2 / p*(s|x),   x ~ U[-xr, xr]  (= 2 KL to leading order)

over G in a box around G* (every coefficient within R of its true value, in-cell weights in [0.17, 0.83]),
by SLSQP with the cell error as an equality constraint, exact gradients (torch, float64) and 128-node
Gauss-Legendre quadrature in x. The log-log slope of m(eps) is the identifiability order: 4 means the
MLE's cell error shrinks like n^-1/4; a steeper slope means a slower rate. n_eps = 3.84 / m(eps) is the
sample size at which a cell error eps changes the expected log-likelihood ratio by the chi-square(1) 95%
quantile / 2, i.e. below which the MLE cannot tell G_eps from G*.

Mode `mle` fits the over-specified model by box-constrained L-BFGS-B to convergence from the spec's
nearTrue start (the MLE in the box, not EM stopped early) and reports the weighted cell error.

Uses Debian's python3-numpy, python3-scipy and python3-torch. Examples:
    /usr/bin/python3 tools/moe_population.py curve --design A --case over
    /usr/bin/python3 tools/moe_population.py mle --design S --case regime2 --reps 8
"""
import argparse
import sys
import time

import numpy as np
import torch
from scipy.optimize import minimize

torch.set_default_dtype(torch.float64)
K_FIT = 3


def design(name, case):
    """Truth with the cell expert first (non-reference gate column) and the other expert as reference.
    Returns (transform, xr, gate0[2], gate1[2], B[2,S], A[2,S]); class S-1 is the reference class."""
    vanish = case in ("regime2", "modified")
    if name == "A":  # spec 7.2 with experts swapped so that expert 2 (the vanishing one) comes first
        tr = torch.sigmoid if case == "modified" else (lambda x: x)
        g0, g1 = [-0.5, 0.0], [-3.0, 0.0]
        B = [[-0.5, 1.0, 0.0], [1.0, 0.5, 0.0]]
        A = [[-2.0, 1.5, 0.0], [2.0, -1.0, 0.0]]
        xr = 1.0
    elif name == "S":  # better separated: x in [-2, 2], tanh is far from linear there
        tr = torch.tanh if case == "modified" else (lambda x: x)
        g0, g1 = [0.0, 0.0], [3.0 if case == "modified" else 2.0, 0.0]
        B = [[1.5, -1.0, 0.0], [-1.0, 1.0, 0.0]]
        A = [[2.0, -1.5, 0.0], [-2.0, 2.0, 0.0]]
        xr = 2.0
    else:
        sys.exit(f"moe_population: unknown design {name!r} (A or S)")
    A = torch.tensor(A)
    if vanish:
        A[0] = 0.0
    return tr, xr, torch.tensor(g0), torch.tensor(g1), torch.tensor(B), A


def probs(tr, x, g0, g1, B, A):
    pi = torch.softmax(g0[None] + g1[None] * tr(x)[:, None], 1)
    f = torch.softmax(B[None] + A[None] * x[:, None, None], 2)
    return (pi[:, :, None] * f).sum(1)


def unpack(th, S):
    """16 (K=3) or 10 (K=2) free parameters: gate (beta0, beta1) of atoms 0, 1; then b, a of atoms 0..2."""
    m = S - 1
    g0 = torch.cat([th[0:2], torch.zeros(1)])
    g1 = torch.cat([th[2:4], torch.zeros(1)])
    B = torch.cat([th[4:4 + 3 * m].reshape(3, m), torch.zeros(3, 1)], 1)
    A = torch.cat([th[4 + 3 * m:4 + 6 * m].reshape(3, m), torch.zeros(3, 1)], 1)
    return g0, g1, B, A


def start_point(g0, g1, B, A):
    """The split start: atoms 0 and 1 copy the cell expert with half its gate mass each, atom 2 the other."""
    m = B.shape[1] - 1
    return np.concatenate([[g0[0].item() - np.log(2)] * 2, [g1[0].item()] * 2,
                           B[[0, 0, 1], :m].numpy().ravel(), A[[0, 0, 1], :m].numpy().ravel()])


def cell_err2(th, S, g1s, As):
    g0, g1, _, A = unpack(th, S)
    w = torch.softmax(g0[:2], 0)
    return sum(w[i] * ((g1[i] - g1s[0]) ** 2 + ((A[i] - As[0]) ** 2).sum()) for i in range(2))


def with_grad(fn):
    def F(th):
        t = torch.tensor(th, requires_grad=True)
        v = fn(t)
        v.backward()
        return v.item(), t.grad.numpy().copy()
    return F


def curve(args):
    tr, xr, g0s, g1s, Bs, As = design(args.design, args.case)
    S = Bs.shape[1]
    xg, wg = np.polynomial.legendre.leggauss(128)
    xq, wq = torch.tensor(xg * xr), torch.tensor(wg / 2)
    pstar = probs(tr, xq, g0s, g1s, Bs, As)
    th0 = start_point(g0s, g1s, Bs, As)
    nth = th0.size
    lo, hi = th0 - args.box, th0 + args.box
    lo[0:2], hi[0:2] = th0[0:2] - 0.9, th0[0:2] + 0.9
    m = S - 1
    cidx = np.r_[2, 3, np.arange(4 + 3 * m, 4 + 5 * m)]  # beta1 and a of the two cell atoms
    rng = np.random.default_rng(args.seed)

    def chi2(th):
        p = probs(tr, xq, *unpack(th, S))
        return (wq * ((p - pstar) ** 2 / pstar).sum(1)).sum()

    def feasible(s, eps):
        s = np.clip(s, lo, hi)
        for _ in range(200):
            v = cell_err2(torch.tensor(s), S, g1s, As).item()
            if v < 1e-300:
                s[cidx] = th0[cidx] + rng.normal(0, eps, cidx.size)
                continue
            s[cidx] = th0[cidx] + (s[cidx] - th0[cidx]) * eps / np.sqrt(v)
            s = np.clip(s, lo, hi)
            if abs(cell_err2(torch.tensor(s), S, g1s, As).item() - eps ** 2) < 1e-12 * eps ** 2:
                break
        return s

    print(f"design {args.design} case {args.case}: box {args.box}, {args.starts} starts per eps", file=sys.stderr)
    rows, prev = [], None
    for eps in np.geomspace(args.eps_max, args.eps_min, args.neps):
        best = None
        for trial in range(args.starts):
            if trial == 0 and prev is not None:
                s = prev.copy()
            else:
                scale = np.r_[0.3, 0.3, eps, eps, [args.box / 2] * (3 * m), [eps] * (2 * m), [0] * m]
                s = th0 + rng.normal(0, 1, nth) * scale
            s = feasible(s, eps)
            sc = 1.0 / max(chi2(torch.tensor(s)).item(), 1e-300)
            obj = with_grad(lambda t: chi2(t) * sc)
            con = with_grad(lambda t: (cell_err2(t, S, g1s, As) - eps ** 2) / eps ** 2)
            r = minimize(obj, s, jac=True, method="SLSQP", bounds=list(zip(lo, hi)),
                         constraints=[{"type": "eq", "fun": lambda t: con(t)[0], "jac": lambda t: con(t)[1]}],
                         options={"maxiter": 3000, "ftol": 1e-14})
            v, c = chi2(torch.tensor(r.x)).item(), con(r.x)[0]
            if abs(c) < 1e-8 and (best is None or v < best[0]):
                best = (v, r.x)
        prev = best[1]
        rows.append((eps, best[0]))
        print(f"{args.design} {args.case:9s} eps {eps:.4f}  m(eps) {best[0]:.3e}  n_eps {3.84 / best[0]:.2e}",
              flush=True)
    e = np.array(rows)
    for i in range(0, len(e) - 3, 2):
        s = np.polyfit(np.log(e[i:i + 4, 0]), np.log(e[i:i + 4, 1]), 1)[0]
        print(f"  local slope of log m on log eps, eps {e[i, 0]:.3f}..{e[i + 3, 0]:.3f}: {s:.2f}")


def sample(rng, tr, xr, g0, g1, B, A, n):
    x = torch.tensor(rng.uniform(-xr, xr, n))
    pi = torch.softmax(g0[None] + g1[None] * tr(x)[:, None], 1).numpy()
    z = (rng.random(n)[:, None] > np.cumsum(pi, 1)).sum(1)
    z = np.minimum(z, pi.shape[1] - 1)
    f = torch.softmax(B[None] + A[None] * x[:, None, None], 2).numpy()[np.arange(n), z]
    y = np.minimum((rng.random(n)[:, None] > np.cumsum(f, 1)).sum(1), f.shape[1] - 1)
    return x, torch.tensor(y)


def mle(args):
    tr, xr, g0s, g1s, Bs, As = design(args.design, args.case)
    S = Bs.shape[1]
    rng = np.random.default_rng(args.seed)
    print("n  median weighted cell error  median max atom error  median |grad|*n  coefficients at the box  seconds")
    for n in args.n:
        t0, rows = time.time(), []
        for _ in range(args.reps):
            x, y = sample(rng, tr, xr, g0s, g1s, Bs, As, n)
            th = start_point(g0s, g1s, Bs, As)
            sg, se = 0.005 * n ** -0.083, 0.05 * n ** -0.083  # nearTrue noise (spec 4.1)
            th[0:4] += np.r_[rng.normal(0, sg, 2), rng.normal(0, sg, 2)]
            m = S - 1
            for i in range(3):
                e = rng.normal(0, se)
                th[4 + i * m:4 + (i + 1) * m] += e
                th[4 + 3 * m + i * m:4 + 3 * m + (i + 1) * m] += e

            def nll(t_np):
                t = torch.tensor(t_np, requires_grad=True)
                p = probs(tr, x, *unpack(t, S))
                v = -torch.log(p[torch.arange(n), y]).sum() / n
                v.backward()
                return v.item(), t.grad.numpy().copy()

            r = minimize(nll, th, jac=True, method="L-BFGS-B", bounds=[(-args.box, args.box)] * th.size,
                         options={"maxiter": 30000, "maxfun": 60000, "ftol": 1e-16, "gtol": 1e-11})
            at_box = np.abs(r.x) >= args.box - 1e-9
            pgrad = np.abs(np.where(at_box, 0.0, r.jac)).max() * n
            g0, g1, _, A = unpack(torch.tensor(r.x), S)
            w = torch.softmax(g0[:2], 0)
            err = [abs(g1[i] - g1s[0]).item() + (A[i] - As[0]).norm().item() for i in range(2)]
            rows.append((sum(w[i].item() * err[i] for i in range(2)), max(err), pgrad, at_box.sum()))
        R = np.array(rows)
        print(f"{n:6d}  {np.median(R[:, 0]):.3f}  {np.median(R[:, 1]):.3f}  {np.median(R[:, 2]):.1e}  "
              f"{R[:, 3].sum():.0f} of {args.reps * th.size}  {time.time() - t0:.0f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    for mode in ("curve", "mle"):
        p = sub.add_parser(mode)
        p.add_argument("--design", default="A", help="A (spec 7.2) or S (separated, x in [-2, 2])")
        p.add_argument("--case", default="over", choices=["over", "regime2", "modified"])
        p.add_argument("--seed", type=int, default=0)
    c = sub.choices["curve"]
    c.add_argument("--box", type=float, default=1.0, help="coefficients within this of the truth (1)")
    c.add_argument("--starts", type=int, default=8)
    c.add_argument("--eps-max", type=float, default=0.8)
    c.add_argument("--eps-min", type=float, default=0.02)
    c.add_argument("--neps", type=int, default=14)
    m = sub.choices["mle"]
    m.add_argument("--box", type=float, default=8.0, help="|coefficient| <= box (8)")
    m.add_argument("--reps", type=int, default=8)
    m.add_argument("--n", type=int, nargs="+", default=[1000, 4000, 16000])
    args = ap.parse_args()
    curve(args) if args.mode == "curve" else mle(args)


if __name__ == "__main__":
    main()
