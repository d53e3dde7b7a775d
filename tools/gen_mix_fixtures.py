#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_mix_fixtures.py - small .npy fixtures for tests/cli_mix.sh (spec mixture_ucb.md §6.1):
case B arms N((0,0),0.25^2 I), N((10,0),0.5^2 I), N((0,10),1^2 I) (RKE oracle 8.25, weights
(0.1515, 0.2424, 0.6061) at sigma = 1); case E arms N((0,0)), N((2,0)), N((0,2)) with 0.5^2 I and a
reference drawn as their 0.2/0.3/0.5 mixture (KID optimum = those weights); plus bad inputs.
Run once with /usr/bin/python3; outputs are committed under tests/golden/."""
import numpy as np

rng = np.random.default_rng(2024)
out = "tests/golden/"
n = 1200
for i, (mu, s) in enumerate([((0, 0), 0.25), ((10, 0), 0.5), ((0, 10), 1.0)]):
    np.save(out + "mix_b%d.npy" % i, (np.array(mu) + s * rng.standard_normal((n, 2))).astype(np.float32))
mus = [(0, 0), (2, 0), (0, 2)]
for i, mu in enumerate(mus):
    np.save(out + "mix_e%d.npy" % i, (np.array(mu) + 0.5 * rng.standard_normal((n, 2))).astype(np.float32))
ref = np.concatenate([np.array(mus[c]) + 0.5 * rng.standard_normal((k, 2)) for c, k in [(0, 120), (1, 180), (2, 300)]])
np.save(out + "mix_eref.npy", ref.astype(np.float32))
np.save(out + "mix_d3.npy", rng.standard_normal((n, 3)).astype(np.float32))
np.save(out + "mix_empty.npy", np.zeros((0, 2), dtype=np.float32))
np.save(out + "mix_small.npy", rng.standard_normal((50, 2)).astype(np.float32))
bad = rng.standard_normal((n, 2)).astype(np.float32)
bad[7, 1] = np.nan
np.save(out + "mix_nan.npy", bad)
