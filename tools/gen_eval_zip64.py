#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen_eval_zip64.py — small ZIP64 .npz fixtures for the .npz reader (tests/test_eval_zip64.c).

NumPy writes ZIP64 records when a member or the archive passes 4 GiB (and a ZIP64 extra field in every
local header, force_zip64). To get the same records in a small file, this script lowers zipfile's
limits while numpy.savez writes: every size/offset above 64 bytes then goes into ZIP64 extra fields of the
central directory (0xffffffff in the 32-bit fields), and the end of central directory gets a ZIP64
record + locator. numpy.load reads the files back (checked below).
  tests/golden/eval_zip64.npz        stored members mu (5,) float64, sigma (5,5) float64, n () int64
  tests/golden/eval_zip64_defl.npz   the same, savez_compressed (deflate)
Run: /usr/bin/python3 tools/gen_eval_zip64.py
"""
import zipfile
import numpy as np

mu = np.arange(5, dtype=np.float64) * 0.5 - 1.0
A = np.arange(25, dtype=np.float64).reshape(5, 5) / 10.0
sigma = A @ A.T + np.eye(5)
old = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
zipfile.ZIP64_LIMIT = 64
zipfile.ZIP_FILECOUNT_LIMIT = 2
try:
    np.savez("tests/golden/eval_zip64.npz", mu=mu, sigma=sigma, n=np.int64(12345))
    np.savez_compressed("tests/golden/eval_zip64_defl.npz", mu=mu, sigma=sigma, n=np.int64(12345))
finally:
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = old
for f in ("tests/golden/eval_zip64.npz", "tests/golden/eval_zip64_defl.npz"):
    raw = open(f, "rb").read()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw, "no ZIP64 end records"
    z = np.load(f)
    assert np.array_equal(z["mu"], mu) and np.array_equal(z["sigma"], sigma) and int(z["n"]) == 12345
    print(f, len(raw), "bytes, members", sorted(z.files))
