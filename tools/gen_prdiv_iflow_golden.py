#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixture for tests/test_prdiv_iflow.c (the multi-scale image RealNVP of src/prdiv/prdiv_iflow.c) from
PyTorch (Debian python3-torch, CPU), computed in float64 and stored as float32; written once and committed, the C
test does not need torch.
The flow y -> z as genmix documents it (include/genmix/prdiv.h): per scale, K checkerboard couplings, squeeze
(F.pixel_unshuffle), K channel couplings, factor out the second half of the channels; then K checkerboard couplings.
Coupling: xm = x * mask, h = conv_in(xm), per residual block h = h + conv_b(silu(conv_a(silu(h)))),
(s_raw, t) = conv_out(silu(h)) (s first), s = scale * tanh(s_raw) and t where mask = 0, y = x * exp(s) + t,
log-det = sum of s. log p(y) = -|z|^2/2 - D/2 log(2 pi) + log-det.
Members: cfg (C, H, W, n_scales, n_couplings, hidden, n_res, scale), every parameter tensor by its genmix name,
y (B, C, H, W) logits, logp (B), y.grad and <name>.grad = gradients of mean_b log p(y_b).
Output: tests/golden/prdiv_iflow_golden.npz. Run: /usr/bin/python3 tools/gen_prdiv_iflow_golden.py
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_iflow  # noqa: E402  (the shared flow driver, tools/torch_iflow.py)

torch.manual_seed(1515)
torch.set_num_threads(1)
F = torch.nn.functional
DT = torch.float64

C0, H0, W0, L, K, HID, NRES, SCALE, B = 1, 8, 8, 2, 2, 6, 1, 2.0, 3

params = {}  # name -> tensor (requires grad), in genmix order
couplings = []  # (prefix, C, H, W, mask)


def conv_param(pre, nm, oc, ic, gain=1.0):
    bound = 1.0 / math.sqrt(ic * 9)
    w = (torch.rand(oc, ic, 3, 3, dtype=DT) * 2 - 1) * bound * gain
    b = (torch.rand(oc, dtype=DT) * 2 - 1) * bound * gain
    # rounded to float32 first: the C test loads exactly these values
    params[f"{pre}.{nm}.weight"] = w.float().double().requires_grad_()
    params[f"{pre}.{nm}.bias"] = b.float().double().requires_grad_()


def add_coupling(C, H, W, chan, par):
    k = len(couplings)
    pre = f"c{k}"
    mask = torch.zeros(1, C, H, W, dtype=DT)
    for ch in range(C):
        for i in range(H):
            for j in range(W):
                if chan:
                    mask[0, ch, i, j] = float((ch < C // 2) == (par % 2 == 0))
                else:
                    mask[0, ch, i, j] = float((i + j + par) % 2 == 0)
    conv_param(pre, "in", HID, C)
    for r in range(NRES):
        conv_param(pre, f"res{r}.a", HID, HID)
        conv_param(pre, f"res{r}.b", HID, HID)
    conv_param(pre, "out", 2 * C, HID, gain=0.5)  # not zero: the golden must see the couplings act
    couplings.append((pre, C, H, W, mask))


torch_iflow.layout(C0, H0, W0, L, K, add_coupling)


def coupling(x, k):
    pre, C, H, W, mask = couplings[k]
    p = lambda n: params[f"{pre}.{n}"]
    h = F.conv2d(x * mask, p("in.weight"), p("in.bias"), padding=1)
    for r in range(NRES):
        u = F.conv2d(F.silu(h), p(f"res{r}.a.weight"), p(f"res{r}.a.bias"), padding=1)
        h = h + F.conv2d(F.silu(u), p(f"res{r}.b.weight"), p(f"res{r}.b.bias"), padding=1)
    st = F.conv2d(F.silu(h), p("out.weight"), p("out.bias"), padding=1)
    s = SCALE * torch.tanh(st[:, :C]) * (1 - mask)
    t = st[:, C:] * (1 - mask)
    return x * torch.exp(s) + t, s.flatten(1).sum(1)


def logp(y):
    return torch_iflow.logp(y, L, K, coupling)


y = (torch.randn(B, C0, H0, W0, dtype=DT) * 1.5).float().double().requires_grad_()
lp = logp(y)
lp.mean().backward()

members = {"cfg": np.array([C0, H0, W0, L, K, HID, NRES, SCALE], dtype=np.float32)}
for n, t in params.items():
    members[n] = t.detach().numpy().astype(np.float32)
    members[n + ".grad"] = t.grad.numpy().astype(np.float32)
members["y"] = y.detach().numpy().astype(np.float32)
members["y.grad"] = y.grad.numpy().astype(np.float32)
members["logp"] = lp.detach().numpy().astype(np.float32)
np.savez_compressed("tests/golden/prdiv_iflow_golden.npz", **members)
print("wrote tests/golden/prdiv_iflow_golden.npz:", len(params), "tensors, log p", lp.detach().numpy())
