#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write tests/golden/philox_numpy.txt: raw Philox4x64-10 outputs and doubles from NumPy's
numpy.random.Philox, for genmix's RNG parity test. Run with Debian's python3-numpy (1.24):
    /usr/bin/python3 tools/gen_rng_fixtures.py
Each line: seed stream_lo stream_hi first_block count  then `count` hex words (our blocks
first_block, first_block+1, ...). NumPy increments counter word 0 before producing a block, so our
block b is NumPy's counter b-1."""
import numpy as np

cases = [(7, 0, 5, 1, 8), (0, 0, 0, 1, 8), (42, 123, 0, 1, 12), (2**64 - 1, 2**63, 77, 10, 8),
         (20240521, 4 << 56 | 3, 0, 1, 16)]
out = []
for seed, lo, hi, first, count in cases:
    bg = np.random.Philox(key=np.array([seed, 0], dtype=np.uint64),
                         counter=np.array([first - 1, 0, lo, hi], dtype=np.uint64))
    words = bg.random_raw(count)
    out.append("%d %d %d %d %d %s" % (seed, lo, hi, first, count,
                                       " ".join("%016x" % int(w) for w in words)))
# doubles: Generator.random() on the same bit generator equals (x >> 11) * 2^-53
bg = np.random.Philox(key=[7, 0], counter=[0, 0, 0, 5])
g = np.random.Generator(bg)
d = g.random(4)
out.append("doubles 7 0 5 1 4 " + " ".join(repr(float(x)) for x in d))
with open("tests/golden/philox_numpy.txt", "w") as f:
    f.write("\n".join(out) + "\n")
print("\n".join(out))
