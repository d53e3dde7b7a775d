# SPDX-License-Identifier: MIT
"""The multi-scale RealNVP of src/prdiv/prdiv_iflow.c as a PyTorch driver shared by tools/gen_prdiv_iflow_golden.py
(the golden fixture, float64) and tools/ref_flow_image_bench.py (the benchmark reference, float32): the order of
the couplings and the log-density. The caller owns the couplings' parameters and their arithmetic.
layout(C, H, W, L, K, add): calls add(C, H, W, chan, par) once per coupling in genmix's order — per scale, K
checkerboard couplings (chan 0), squeeze to 4C x H/2 x W/2, K channel couplings (chan 1), factor out half the
channels; then K checkerboard couplings.
logp(y, L, K, coupling): log p(y) = -|z|^2/2 - D/2 log(2 pi) + sum of the couplings' log-dets, where
coupling(h, k) -> (h', log-det per row) applies coupling k, the squeeze is F.pixel_unshuffle and the factored-out
half is the second half of the channels."""
import math

import torch
import torch.nn.functional as F


def layout(C, H, W, L, K, add):
    for s in range(L):
        for j in range(K):
            add(C, H, W, 0, j)
        C, H, W = 4 * C, H // 2, W // 2
        for j in range(K):
            add(C, H, W, 1, j)
        C //= 2
    for j in range(K):
        add(C, H, W, 0, j)


def logp(y, L, K, coupling):
    h, ld, zs, k = y, 0, [], 0
    for s in range(L):
        for j in range(K):
            h, l = coupling(h, k)
            ld, k = ld + l, k + 1
        h = F.pixel_unshuffle(h, 2)
        for j in range(K):
            h, l = coupling(h, k)
            ld, k = ld + l, k + 1
        c = h.shape[1] // 2
        zs.append(h[:, c:].flatten(1))
        h = h[:, :c]
    for j in range(K):
        h, l = coupling(h, k)
        ld, k = ld + l, k + 1
    z = torch.cat(zs + [h.flatten(1)], 1)
    return -0.5 * (z * z).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + ld
