#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the .npy/.npz fixtures of tests/test_io_*.c with NumPy (Debian python3-numpy 1.24).

Run from the repository root:  /usr/bin/python3 tools/gen_io_fixtures.py
Outputs go to tests/golden/io/. Values are simple closed forms so the C tests can recompute them:
  v(i) = (i % 17) * 0.25 - 1.5 for floats, (i * 7) % 251 for unsigned, (i * 37) % 201 - 100 for signed,
  i % 3 == 0 for bool, with i the C-order flat index.
"""
import os
import struct

import numpy as np

OUT = "tests/golden/io"


def fv(n, dt):
    i = np.arange(n)
    return ((i % 17) * 0.25 - 1.5).astype(dt)


def uv(n, dt):
    return ((np.arange(n) * 7) % 251).astype(dt)


def sv(n, dt):
    return ((np.arange(n) * 37) % 201 - 100).astype(dt)


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, arr)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arr, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    # numpy.save output that genmix's writer must reproduce byte for byte
    save("f4_3x4.npy", fv(12, "<f4").reshape(3, 4))
    save("f8_5.npy", fv(5, "<f8"))
    save("i8_scalar.npy", np.array(-123456789012, dtype="<i8"))
    save("u1_2x3.npy", uv(6, "u1").reshape(2, 3))
    save("i4_0x3.npy", np.zeros((0, 3), dtype="<i4"))
    save("i1_7.npy", sv(7, "i1"))
    save("i2_2x2.npy", sv(4, "<i2").reshape(2, 2))
    save("u2_3.npy", uv(3, "<u2"))
    save("u4_3.npy", uv(3, "<u4"))
    save("u8_3.npy", uv(3, "<u8"))
    save("b1_4.npy", (np.arange(4) % 3 == 0))
    save("f2_2x3.npy", fv(6, "<f2").reshape(2, 3))
    save("f4_2x3x4x5.npy", fv(120, "<f4").reshape(2, 3, 4, 5))
    save("f4_long_dim.npy", np.zeros((12345678901, 0), dtype="<f4"))
    # reader-only cases
    save("f4be_2x3.npy", fv(6, ">f4").reshape(2, 3))
    save("f8be_4.npy", fv(4, ">f8"))
    save("i8be_3.npy", sv(3, ">i8"))
    save("f2be_3.npy", fv(3, ">f2"))
    save("f4_fortran_3x4.npy", np.asfortranarray(fv(12, "<f4").reshape(3, 4)))
    save("i4_fortran_2x3x4.npy", np.asfortranarray(sv(24, "<i4").reshape(2, 3, 4)))
    save("f4_v2_3x4.npy", fv(12, "<f4").reshape(3, 4), version=(2, 0))
    save("f4_v3_3x4.npy", fv(12, "<f4").reshape(3, 4), version=(3, 0))
    # an old-style file with 16-byte alignment (data at offset 80): header written by hand
    arr = fv(6, "<f8").reshape(2, 3)
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
    hlen = len(hdr) + 1
    pad = (16 - (10 + hlen) % 16) % 16
    with open(os.path.join(OUT, "f8_align16_2x3.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", hlen + pad) + hdr.encode() + b" " * pad + b"\n")
        f.write(arr.tobytes())
    assert np.array_equal(np.load(os.path.join(OUT, "f8_align16_2x3.npy")), arr)

    # .npz: stored (np.savez) and deflated (np.savez_compressed)
    np.savez(os.path.join(OUT, "stored.npz"), mu=fv(8, "<f8"), sigma=fv(64, "<f8").reshape(8, 8),
             n=np.array(1000, dtype="<i8"))
    np.savez_compressed(os.path.join(OUT, "deflated.npz"), feats=fv(3000, "<f4").reshape(300, 10),
                        labels=uv(300, "u1"))
    np.savez(os.path.join(OUT, "positional.npz"), fv(3, "<f4"), uv(4, "u1"))


if __name__ == "__main__":
    main()
