#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reference values for tests/test_mcmc.c (ESS and split R-hat), computed with NumPy by a vectorised
implementation written independently of src/latent/mcmc.c. Conventions (BDA3 11.4-11.5, Stan):
  split R-hat: halves of each chain (middle draw of odd n dropped), W = mean within-half variance (ddof 1),
               var+ = (h-1)/h W + var(half means, ddof 1), R = sqrt(var+ / W).
  ESS: rho_t = 1 - (W - mean_c acov_c(t)) / var+ with acov biased (1/n) and W, var+ over whole chains;
       Geyer initial positive + monotone pair sequence; tau = -1 + 2 sum P_k; ESS = m n / tau.
Usage: /usr/bin/python3 tools/gen_mcmc_fixtures.py   (prints the constants to paste into the test)"""
import numpy as np


def split_rhat(x):
    m, n = x.shape
    h = n // 2
    halves = np.concatenate([x[:, :h], x[:, n - h:]], axis=0)
    W = halves.var(axis=1, ddof=1).mean()
    Bn = halves.mean(axis=1).var(ddof=1)
    return np.sqrt(((h - 1) / h * W + Bn) / W)


def ess(x):
    m, n = x.shape
    W = x.var(axis=1, ddof=1).mean()
    Bn = x.mean(axis=1).var(ddof=1) if m > 1 else 0.0
    vp = (n - 1) / n * W + Bn
    xc = x - x.mean(axis=1, keepdims=True)
    acov = np.array([[np.dot(xc[c, : n - t], xc[c, t:]) / n for t in range(n)] for c in range(m)]).mean(axis=0)
    rho = 1.0 - (W - acov) / vp
    rho[0] = 1.0
    tau, prev = -1.0, np.inf
    for t in range(0, n - 1, 2):
        p = rho[t] + rho[t + 1]
        if p < 0:
            break
        p = min(p, prev)
        prev = p
        tau += 2 * p
    tau = max(tau, 1.0 / np.log10(max(m * n, 10)))
    return m * n / tau


i = np.arange(20)
x = np.array([np.sin(0.7 * i + c) + 0.3 * c + 0.05 * i for c in range(3)])
print("#define GOLDEN_ESS %.17g" % ess(x))
print("#define GOLDEN_RHAT %.17g" % split_rhat(x))
