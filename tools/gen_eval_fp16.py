#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen_eval_fp16.py — NumPy float16 fixtures for genmix eval's fp16 emulation (nvidia/openai profiles).

Writes into tests/golden/:
  eval_half_in.npy, eval_half_out.npy   float64 values and the same values cast to np.float16 (round to
                                        nearest even, overflow to inf), cast back to float64
  eval_fp16_real.npy, eval_fp16_fake.npy  float64 features (150 x 12, 120 x 12)
  eval_fp16_expect.npy                  int64 [n_fake_in_real_k3, n_real_in_fake_k3, n_fake_in_real_k5,
                                        n_real_in_fake_k5, sum density counts k5, n_covered_k5]
  eval_fp16_flags.npy                   uint8 per-sample flags: fake_in_real k3 (120), real_in_fake k3 (150)
The emulation: features rounded to float16, squared distances |a|^2 + |b|^2 - 2 a.b in float64, clamped
at 0, rounded to float16; radius = k-th smallest excluding self; P/R k 3 with <=, PRDC k 5 with <.
Run: /usr/bin/python3 tools/gen_eval_fp16.py
"""
import numpy as np

rng = np.random.RandomState(7)
vals = np.concatenate([
    np.array([0.0, -0.0, 1.0, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -12, 65504.0, 65519.99,
              65520.0, 65536.0, 1e6, -65520.0, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26,
              6.1e-5, 5.96e-8, 1e-9, 0.1, 1 / 3.0, 2047.5, 2048.5, 4095.0, -2.5]),
    rng.standard_normal(300) * 10.0 ** rng.uniform(-9, 5, 300),
])
np.save("tests/golden/eval_half_in.npy", vals)
with np.errstate(over="ignore"):
    np.save("tests/golden/eval_half_out.npy", vals.astype(np.float16).astype(np.float64))

R = rng.standard_normal((150, 12)) * 3.0
F = rng.standard_normal((120, 12)) * 3.2 + 0.3
np.save("tests/golden/eval_fp16_real.npy", R)
np.save("tests/golden/eval_fp16_fake.npy", F)


def h(x):
    return x.astype(np.float16).astype(np.float64)


def d2(a, b):
    a, b = h(a), h(b)
    v = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return h(np.maximum(v, 0.0))


def radii(x, k):
    D = d2(x, x)
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, k - 1]


Drf = d2(R, F)
out, flags = [], []
for k, le in ((3, True), (5, False)):
    rr, rf = radii(R, k), radii(F, k)
    inside_r = Drf <= rr[:, None] if le else Drf < rr[:, None]   # fake j inside ball of real i
    inside_f = Drf <= rf[None, :] if le else Drf < rf[None, :]   # real i inside ball of fake j
    fir, rif = inside_r.any(0), inside_f.any(1)
    out += [int(fir.sum()), int(rif.sum())]
    if k == 3:
        flags = np.concatenate([fir, rif]).astype(np.uint8)
    else:
        out += [int(inside_r.sum()), int((Drf.min(1) < rr).sum())]
np.save("tests/golden/eval_fp16_expect.npy", np.array(out, dtype=np.int64))
np.save("tests/golden/eval_fp16_flags.npy", flags)
print("expect", out, "ties in D:", Drf.size - np.unique(Drf).size)
