#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixture for tests/test_eval.c (bootstrap replay): the percentile intervals of gm_knn_bootstrap and
gm_mean_bootstrap recomputed with NumPy from the SAME resamples. The resample indices come from a Python
Philox4x64-10 (checked against numpy.random.Philox below) keyed like genmix's gm_rng: key (seed, 0),
counter (block, 0, stream, 0), stream = GM_STREAM_EVAL << 56 | (3 or 5) << 32 | b, and Lemire's
multiply-shift for gm_rng_below. Percentiles: np.percentile (linear), at 50(1-level) and 100-50(1-level).
Output tests/golden/eval_boot.txt:
    data <name> <n> v0 v1 ...          inputs (indicators, counts, values)
    knn <B> <seed> <level> <k_dc> lo hi (x6: precision recall dc_precision dc_recall density coverage)
    mean <B> <seed> <level> lo hi
Run once: /usr/bin/python3 tools/gen_boot_fixtures.py
"""
import numpy as np

M64 = (1 << 64) - 1
GM_STREAM_EVAL = 7  # include/genmix/rng.h (gm_rng_stream_id purpose)


def philox(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2E7470EE14C6C93 * c0
        p1 = 0xCA5A826395121157 * c2
        c0, c1, c2, c3 = ((p1 >> 64) ^ c1 ^ k0) & M64, p1 & M64, ((p0 >> 64) ^ c3 ^ k1) & M64, p0 & M64
        k0, k1 = (k0 + 0x9E3779B97F4A7C15) & M64, (k1 + 0xBB67AE8584CAA73B) & M64
    return [c0, c1, c2, c3]


class Rng:
    def __init__(self, seed, stream):
        self.key, self.ctr, self.buf = (seed, 0), [0, 0, stream, 0], []

    def u64(self):
        if not self.buf:
            self.buf = philox(self.ctr, self.key)
            self.ctr[0] += 1
        return self.buf.pop(0)

    def below(self, n):
        m = self.u64() * n
        if (m & M64) < n:
            t = ((1 << 64) - n) % n
            while (m & M64) < t:
                m = self.u64() * n
        return m >> 64


# our block b+1 is NumPy's counter b (NumPy increments before producing): check a few blocks
for seed, stream in ((5, 7), (2**63 + 11, GM_STREAM_EVAL << 56 | 3 << 32 | 4)):
    bg = np.random.Philox(key=np.array([seed, 0], dtype=np.uint64),
                          counter=np.array([0, 0, stream, 0], dtype=np.uint64))
    r = Rng(seed, stream)
    r.u64()
    r.buf = []  # skip our block 0
    assert [r.u64() for _ in range(8)] == [int(w) for w in bg.random_raw(8)], "Philox mismatch"


def ci(v, level):
    return np.percentile(v, 50 * (1 - level)), np.percentile(v, 100 - 50 * (1 - level))


def stream(kind, b):
    return GM_STREAM_EVAL << 56 | kind << 32 | b


rs = np.random.default_rng(17)
nf, nr, kdc = 37, 29, 5
data = {
    "fake_in_real": (rs.random(nf) < 0.6).astype(int),
    "real_in_fake": (rs.random(nr) < 0.4).astype(int),
    "real_in_fake_dc": (rs.random(nr) < 0.7).astype(int),
    "density_count": rs.integers(0, 9, nf) * (rs.random(nf) < 0.7),
    "covered": (rs.random(nr) < 0.5).astype(int),
    "values": np.round(rs.normal(0.01, 0.004, 23), 6),
}
lines = ["data %s %d %s" % (k, len(v), " ".join(repr(float(x)) if k == "values" else str(int(x)) for x in v))
         for k, v in data.items()]
for B, seed, level in ((60, 5, 0.95), (41, 9, 0.5)):
    reps = np.zeros((B, 6))
    for b in range(B):
        g = Rng(seed, stream(3, b))
        jf = np.array([g.below(nf) for _ in range(nf)])
        ir = np.array([g.below(nr) for _ in range(nr)])
        dc = data["density_count"][jf]
        reps[b] = [data["fake_in_real"][jf].mean(), data["real_in_fake"][ir].mean(), (dc > 0).mean(),
                   data["real_in_fake_dc"][ir].mean(), dc.sum() / (kdc * nf), data["covered"][ir].mean()]
    out = []
    for m in range(6):
        out += ci(reps[:, m], level)
    lines.append("knn %d %d %r %d %s" % (B, seed, level, kdc, " ".join(repr(float(x)) for x in out)))
x = data["values"]
for B, seed, level in ((200, 1, 0.9), (77, 3, 0.6)):
    reps = []
    for b in range(B):
        g = Rng(seed, stream(5, b))
        reps.append(x[[g.below(len(x)) for _ in range(len(x))]].mean())
    lo, hi = ci(np.array(reps), level)
    lines.append("mean %d %d %r %r %r" % (B, seed, level, float(lo), float(hi)))
with open("tests/golden/eval_boot.txt", "w") as f:
    f.write("\n".join(lines) + "\n")
