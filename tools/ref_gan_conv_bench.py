#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch reference for bench/bench_gan_conv.c: the same conv PR-GAN (the model of tools/gen_prdiv_conv_golden.py
at the benchmark's widths, torch 1.13 CPU float32) and the same iteration: n_D chi2 critic steps (G under
no_grad, spectral norm with one power iteration per critic call on [fake; real]), then the PR generator step
with the critic frozen, Adam (beta1 0) on both, EMA of G. Prints "torch_gan_iteration<TAB>seconds" (best of
ITERS after one warm-up). Usage: ref_gan_conv_bench.py [iters] [g_width] [d_width] [n_critic] [threads] [cpu]"""
import copy
import sys
import time

import torch
import torch.nn.functional as F

a = sys.argv
iters = int(a[1]) if len(a) > 1 else 5
W = int(a[2]) if len(a) > 2 else 32
WD = int(a[3]) if len(a) > 3 else 32
ND = int(a[4]) if len(a) > 4 else 2
torch.set_num_threads(int(a[5]) if len(a) > 5 else 1)
clock = time.process_time if len(a) > 6 and a[6] == "cpu" else time.perf_counter
torch.manual_seed(1)
Z, B, G_GROUPS, LAM = 64, 64, 8, 1.0


def sn(w, u, eps=1e-12):
    w2 = w.reshape(w.shape[0], -1)
    with torch.no_grad():
        v = F.normalize(torch.mv(w2.t(), u), dim=0, eps=eps)
        u = F.normalize(torch.mv(w2, v), dim=0, eps=eps)
    return w / torch.dot(u, torch.mv(w2, v)), u


g_shapes = [(2 * W * 49, Z), (2 * W * 49,), (2 * W,), (2 * W,), (2 * W, W, 4, 4), (W,), (W,), (W,), (W, 1, 4, 4), (1,)]
d_shapes = [(WD, 1, 4, 4), (WD,), (2 * WD, WD, 4, 4), (2 * WD,), (1, 2 * WD * 49), (1,)]
Gp = [(torch.randn(*s) * 0.02).requires_grad_(True) for s in g_shapes]
Dp = [(torch.randn(*s) * 0.02).requires_grad_(True) for s in d_shapes]
U = [F.normalize(torch.randn(s[0]), dim=0) for s in d_shapes[0::2]]
ema = [p.detach().clone() for p in Gp]


def Gf(z):
    h = F.linear(z, Gp[0], Gp[1]).reshape(-1, 2 * W, 7, 7)
    h = F.relu(F.group_norm(h, G_GROUPS, Gp[2], Gp[3], 1e-5))
    h = F.conv_transpose2d(h, Gp[4], Gp[5], stride=2, padding=1)
    h = F.relu(F.group_norm(h, G_GROUPS, Gp[6], Gp[7], 1e-5))
    return torch.tanh(F.conv_transpose2d(h, Gp[8], Gp[9], stride=2, padding=1))


def Df(x):
    w0, U[0] = sn(Dp[0], U[0])
    w1, U[1] = sn(Dp[2], U[1])
    w2, U[2] = sn(Dp[4], U[2])
    h = F.leaky_relu(F.conv2d(x, w0, Dp[1], stride=2, padding=1), 0.2)
    h = F.leaky_relu(F.conv2d(h, w1, Dp[3], stride=2, padding=1), 0.2)
    return F.linear(h.reshape(h.shape[0], -1), w2, Dp[5]).reshape(-1)


optD = torch.optim.Adam(Dp, lr=2e-4, betas=(0.0, 0.999), eps=1e-8)
optG = torch.optim.Adam(Gp, lr=2e-4, betas=(0.0, 0.999), eps=1e-8)
data = torch.rand(1024, 1, 28, 28) * 2 - 1


def iteration():
    idx = torch.randint(0, 1024, (ND * B,))
    xr = data[idx]
    for p in Dp:
        p.requires_grad_(True)
    for s in range(ND):
        with torch.no_grad():
            xf = Gf(torch.randn(B, Z))
        v = Df(torch.cat([xf, xr[s * B:(s + 1) * B]]))
        u = torch.clamp(v[:B], min=-2.0)
        lossD = -torch.clamp(v[B:], max=5.0).mean() + (u * u / 4 + u).mean()
        optD.zero_grad()
        lossD.backward()
        optD.step()
    for p in Dp:
        p.requires_grad_(False)
    v = Df(torch.cat([Gf(torch.randn(B, Z)), xr[:B]]))
    rf = torch.clamp(v[:B], -2.0, 5.0) / 2 + 1
    rr = torch.clamp(v[B:], -2.0, 5.0) / 2 + 1
    alpha = (0.5 * torch.clamp(LAM * rf, max=1.0)).mean() + (0.5 * torch.clamp(1 / rr, max=LAM)).mean()
    beta = (0.5 * torch.clamp(rf, max=1 / LAM)).mean() + (0.5 * torch.clamp(1 / (LAM * rr), max=1.0)).mean()
    lossG = -0.5 * alpha - 0.5 * beta
    optG.zero_grad()
    lossG.backward()
    optG.step()
    with torch.no_grad():
        for e, p in zip(ema, Gp):
            e.mul_(0.999).add_(p, alpha=0.001)


best = 1e9
for it in range(iters + 1):
    t0 = clock()
    iteration()
    dt = clock() - t0
    if it >= 1:
        best = min(best, dt)
print("torch_gan_iteration\t%.6f" % best)
