#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Example reward command for `genmix align --reward 'cmd:python3 tools/reward_cmd_example.py {in} {out}'`.

Reads the N x D float32 .npy of samples genmix writes to {in} and writes N float64 rewards to {out}
(a .npy), here the GMM-2 toy reward r(x, y) = -x^2 - (y - 1)^2 / 10. Standard library only (no NumPy),
so it also documents the .npy layout. An optional third argument selects a failure mode for tests:
fail (exit 1), shape (one reward too few), nan (a NaN reward).
"""
import ast
import struct
import sys


def read_npy_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", "not a .npy file"
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    n, d = header["shape"]
    vals = struct.unpack("<%df" % (n * d), data[start + hlen:start + hlen + 4 * n * d])
    return [vals[i * d:(i + 1) * d] for i in range(n)]


def write_npy_f64(path, values):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%dd" % len(values), *values))


def main():
    rows = read_npy_f32(sys.argv[1])
    mode = sys.argv[3] if len(sys.argv) > 3 else "ok"
    if mode == "fail":
        sys.exit(1)
    r = [-x[0] * x[0] - (x[1] - 1.0) ** 2 / 10.0 for x in rows]
    if mode == "shape":
        r = r[:-1]
    if mode == "nan":
        r[0] = float("nan")
    write_npy_f64(sys.argv[2], r)


if __name__ == "__main__":
    main()
