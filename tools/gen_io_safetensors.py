#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write tests/golden/io/model.safetensors with a hand-written implementation of the safetensors format
(Debian has no `safetensors` package): u64 LE header length N, compact JSON header with "__metadata__"
first (keys sorted), tensors ordered like the reference writer (dtype order descending, i.e. by
alignment, then by name), header padded with spaces to a multiple of 8, then the little-endian data.
test_io_safetensors.c rebuilds the same tensors, writes them with gm_st_writer and compares the bytes.

Run from the repository root:  /usr/bin/python3 tools/gen_io_safetensors.py
"""
import json
import os
import struct

import numpy as np

# safetensors' Dtype enum order (increasing alignment)
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
         "I64", "U64"]


def fv(n, dt):
    i = np.arange(n)
    return ((i % 17) * 0.25 - 1.5).astype(dt)


def serialize(tensors, metadata):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    items = sorted(tensors, key=lambda t: (-ORDER.index(t[1]), t[0].encode("utf-8")))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    off = 0
    for name, dtype, shape, raw in items:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in items)


def main():
    tensors = [
        ("enc.fc1.weight", "F32", (3, 4), fv(12, "<f4").tobytes()),
        ("enc.fc1.bias", "F32", (4,), fv(4, "<f4").tobytes()),
        ("step", "I64", (), np.array([12000], dtype="<i8").tobytes()),
        ("mask", "U8", (5,), np.array([1, 0, 1, 1, 0], dtype="u1").tobytes()),
        ("h", "F16", (2,), np.array([1.5, -2.0], dtype="<f2").tobytes()),
        ("d", "F64", (2, 2), fv(4, "<f8").tobytes()),
        ("b", "BF16", (3,), np.array([0x3F80, 0xC000, 0x4049], dtype="<u2").tobytes()),
        ("empty", "F32", (0, 3), b""),
        ("i32", "I32", (2,), np.array([-7, 7], dtype="<i4").tobytes()),
        ("w\u00e9", "U16", (1,), np.array([65535], dtype="<u2").tobytes()),
    ]
    meta = {"format": "genmix", "step": "12000", "config": '{"a": 1}\n\ttab'}
    out = serialize(tensors, meta)
    os.makedirs("tests/golden/io", exist_ok=True)
    with open("tests/golden/io/model.safetensors", "wb") as f:
        f.write(out)
    # the reference crate's own serialization test vector, as a cross-check of this implementation
    ref = serialize([("attn.0", "F32", (1, 2, 3), np.arange(6, dtype="<f4").tobytes())], None)
    assert ref[:8] == bytes([64, 0, 0, 0, 0, 0, 0, 0]) and ref[8:72].rstrip() == \
        b'{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'
    print(len(out), "bytes")


if __name__ == "__main__":
    main()
