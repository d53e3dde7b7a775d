#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixture for tests/test_diffusion_unet.c: the genmix Fashion-MNIST U-Net (src/diffusion/diff_unet.c)
written as a PyTorch 1.13 module (Debian python3-torch, CPU, float32) with the same parameter names, with
base channels 8 (4 groups of 2), batch 2, timesteps (7, 913). Random weights (group-norm affine included),
input, target and a vector u. Stored: every weight "w.<name>", the input "x", timesteps "t", target
"target", the output "eps", the loss mean((eps - target)^2) "loss", its gradients "g.<name>" and "dx",
and the input VJP u^T d eps/d x "vjp". Output: tests/golden/unet_c8.npz (deflate).
Run once: /usr/bin/python3 tools/gen_unet_golden.py
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2026)
torch.set_num_threads(1)
G = 4


def sinusoid(t, dim):
    # the genmix kernel (gm_time_embed_forward) in float32: f_i = exp(-ln(10000) i / half)
    half = dim // 2
    i = torch.arange(half, dtype=torch.float32)
    f = torch.exp(-math.log(10000.0) * i / half)
    a = t[:, None] * f[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class Time(nn.Module):
    def __init__(self, c, e):
        super().__init__()
        self.lin1 = nn.Linear(c, e)
        self.lin2 = nn.Linear(e, e)

    def forward(self, emb):
        return self.lin2(F.silu(self.lin1(emb)))


class Res(nn.Module):
    def __init__(self, cin, cout, e):
        super().__init__()
        self.norm1 = nn.GroupNorm(G, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(e, cout)
        self.norm2 = nn.GroupNorm(G, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, semb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(semb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class UNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = 4 * c
        self.c = c
        self.time = Time(c, e)
        self.conv_in = nn.Conv2d(1, c, 3, padding=1)
        self.res0 = Res(c, c, e)
        self.down0 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.res1 = Res(c, 2 * c, e)
        self.down1 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid = Res(2 * c, 2 * c, e)
        self.up1 = nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.resu1 = Res(4 * c, 2 * c, e)
        self.up0 = nn.Conv2d(2 * c, c, 3, padding=1)
        self.resu0 = Res(2 * c, c, e)
        self.norm_out = nn.GroupNorm(G, c)
        self.conv_out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x, t):
        semb = F.silu(self.time(sinusoid(t, self.c)))
        h0 = self.res0(self.conv_in(x), semb)
        h1 = self.res1(self.down0(h0), semb)
        u = self.mid(self.down1(h1), semb)
        u = self.up1(F.interpolate(u, scale_factor=2, mode="nearest"))
        u = self.resu1(torch.cat([u, h1], 1), semb)
        u = self.up0(F.interpolate(u, scale_factor=2, mode="nearest"))
        u = self.resu0(torch.cat([u, h0], 1), semb)
        return self.conv_out(F.silu(self.norm_out(u)))


def main():
    net = UNet(8)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name:  # non-trivial affine so its gradients are tested
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
    B = 2
    x = torch.randn(B, 1, 28, 28)
    t = torch.tensor([7.0, 913.0])
    target = torch.randn(B, 1, 28, 28)
    u = torch.randn(B, 1, 28, 28)
    out = {}
    for name, p in net.named_parameters():
        out["w." + name] = p.detach().numpy().copy()
    xg = x.clone().requires_grad_(True)
    eps = net(xg, t)
    loss = F.mse_loss(eps, target)
    loss.backward()
    out.update({"x": x.numpy(), "t": t.numpy(), "target": target.numpy(), "u": u.numpy(),
                "eps": eps.detach().numpy(), "loss": loss.detach().reshape(1).numpy(), "dx": xg.grad.numpy()})
    for name, p in net.named_parameters():
        out["g." + name] = p.grad.numpy().copy()
    xv = x.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(net(xv, t), xv, grad_outputs=u)
    out["vjp"] = vjp.numpy()
    np.savez_compressed("tests/golden/unet_c8.npz", **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()})


if __name__ == "__main__":
    main()
