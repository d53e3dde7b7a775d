#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch reference for bench/bench_flow_image.c: the same multi-scale RealNVP (the model of
tools/gen_prdiv_iflow_golden.py at the benchmark's size: 1x28x28, 2 scales x 3 couplings per group, hidden 32,
residual blocks, SiLU, s = 2 tanh) and the same training step (uniform dequantisation + logit with a = 0.05, the
bits/dim NLL of a batch of 64, backward, gradient-norm clip 100, Adam lr 1e-3), torch 1.13 CPU float32.
Prints "torch_flow_step<TAB>seconds" (best of ITERS after one warm-up).
Usage: ref_flow_image_bench.py [iters] [hidden] [n_res] [threads] [cpu]"""
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_iflow  # noqa: E402  (the shared flow driver, tools/torch_iflow.py)

a = sys.argv
iters = int(a[1]) if len(a) > 1 else 5
HID = int(a[2]) if len(a) > 2 else 32
NRES = int(a[3]) if len(a) > 3 else 1
torch.set_num_threads(int(a[4]) if len(a) > 4 else 1)
clock = time.process_time if len(a) > 5 and a[5] == "cpu" else time.perf_counter
torch.manual_seed(1)
L, K, SCALE, B, ALPHA = 2, 3, 2.0, 64, 0.05

params, couplings = [], []


def conv(oc, ic, zero=False):
    bound = 1 / math.sqrt(ic * 9)
    w = torch.zeros(oc, ic, 3, 3) if zero else (torch.rand(oc, ic, 3, 3) * 2 - 1) * bound
    b = torch.zeros(oc) if zero else (torch.rand(oc) * 2 - 1) * bound
    w.requires_grad_(), b.requires_grad_()
    params.extend([w, b])
    return w, b


def add(C, H, W, chan, par):
    ii, jj = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    if chan:
        m = torch.zeros(1, C, H, W)
        m[:, : C // 2] = 1.0
        if par % 2:
            m = 1 - m
    else:
        m = (((ii + jj + par) % 2) == 0).float().expand(1, C, H, W).clone()
    net = [conv(HID, C)] + [conv(HID, HID) for _ in range(2 * NRES)] + [conv(2 * C, HID, zero=True)]
    couplings.append((C, m, net))


torch_iflow.layout(1, 28, 28, L, K, add)


def coupling(x, k):
    C, m, net = couplings[k]
    h = F.conv2d(x * m, *net[0], padding=1)
    for r in range(NRES):
        u = F.conv2d(F.silu(h), *net[1 + 2 * r], padding=1)
        h = h + F.conv2d(F.silu(u), *net[2 + 2 * r], padding=1)
    st = F.conv2d(F.silu(h), *net[-1], padding=1)
    s = SCALE * torch.tanh(st[:, :C]) * (1 - m)
    return x * torch.exp(s) + st[:, C:] * (1 - m), s.flatten(1).sum(1)


def logp(y):
    return torch_iflow.logp(y, L, K, coupling)


opt = torch.optim.Adam(params, lr=1e-3)
data = torch.randint(0, 256, (1024, 1, 28, 28)).float()


def step():
    x = data[torch.randint(0, 1024, (B,))]
    p = ALPHA + (1 - 2 * ALPHA) * (x + torch.rand_like(x)) / 256
    y = torch.log(p) - torch.log1p(-p)
    loss = -logp(y).mean() / (784 * math.log(2))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 100.0)
    opt.step()


best = 1e9
for it in range(iters + 1):
    t0 = clock()
    step()
    dt = clock() - t0
    if it >= 1:
        best = min(best, dt)
print(f"torch_flow_step\t{best:.4f}")
