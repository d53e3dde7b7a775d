#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch reference for bench/bench_unet.c: the same U-Net (tools/gen_unet_golden.py's module, torch 1.13
CPU float32): one training step at batch 64 (t and eps drawn, forward, eps-MSE, backward, Adam, EMA) and one
forward + input VJP at batch 64. Prints TSV lines "torch_train_step<TAB>seconds" and "torch_eps_vjp<TAB>seconds"
(best of STEPS). Usage: ref_unet_bench.py [steps] [channels] [threads] [cpu]"""
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from gen_unet_golden import UNet  # noqa: E402

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
C = int(sys.argv[2]) if len(sys.argv) > 2 else 16
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
clock = time.process_time if len(sys.argv) > 4 and sys.argv[4] == "cpu" else time.perf_counter
torch.manual_seed(1)
B = 64
net = UNet(C)
ema = copy.deepcopy(net)
opt = torch.optim.Adam(net.parameters(), lr=1e-4)
ab = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
x0 = torch.rand(B, 1, 28, 28) * 2 - 1
best = 1e9
for it in range(steps + 1):
    t0 = clock()
    t = torch.randint(0, 1000, (B,))
    eps = torch.randn(B, 1, 28, 28)
    a = ab[t].float()[:, None, None, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    loss = F.mse_loss(net(xt, t.float()), eps)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.mul_(0.999).add_(p, alpha=0.001)
    dt = clock() - t0
    if it >= 1:
        best = min(best, dt)
print("torch_train_step\t%.4f" % best)
for p in ema.parameters():
    p.requires_grad_(False)
u = torch.randn(B, 1, 28, 28)
tt = torch.full((B,), 500.0)
best = 1e9
for it in range(steps + 1):
    t0 = clock()
    xv = x0.clone().requires_grad_(True)
    out = ema(xv, tt)
    (g,) = torch.autograd.grad(out, xv, grad_outputs=u)
    dt = clock() - t0
    if it >= 1:
        best = min(best, dt)
print("torch_eps_vjp\t%.4f" % best)
