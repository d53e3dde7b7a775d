#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixtures for tests/test_prdiv_gan_conv.c (the Fashion-MNIST conv PR-GAN of src/prdiv/prdiv_gan_conv.c) from
PyTorch (Debian python3-torch, CPU, float32), written once and committed; the C test does not need torch.
  - the generator z -> linear 2W*7*7 -> GroupNorm -> ReLU -> ConvTranspose2d(4, 2, 1) -> GroupNorm -> ReLU ->
    ConvTranspose2d(4, 2, 1) -> tanh: output and the gradients of sum(dout * G(z)) w.r.t. z and every tensor;
  - the critic conv(4, 2, 1) -> LeakyReLU 0.2 -> conv(4, 2, 1) -> LeakyReLU 0.2 -> linear, spectral norm on all
    three (one power iteration, PyTorch's order, u and v constant in the backward): output, updated SN vectors
    and the gradients of sum(dout * D(x)) w.r.t. x and every tensor;
  - one full PR-GAN iteration of spec §2.2 (n_D chi2 critic steps on [fake; real] with G frozen, then the PR
    generator loss on fresh noise and real chunk 0; Adam beta1 0, beta2 0.999, eps 1e-8): the last critic
    loss, L_G, alpha^/beta^, every updated tensor (G, D, SN vectors) and the gradients of the generator step
    and of the last critic step (the first Adam step with beta1 = 0 moves each weight by lr * sign(grad), so
    the updated weights alone would only check signs).
Output: tests/golden/prdiv_conv_golden.npz (float32 members, compressed). Run:
/usr/bin/python3 tools/gen_prdiv_conv_golden.py
"""
import numpy as np
import torch

torch.manual_seed(2823)
torch.set_num_threads(1)
F = torch.nn.functional
members = {}


def dump(name, t):
    members[name] = t.detach().to(torch.float32).contiguous().numpy()


def sn(w, u, eps=1e-12):
    """torch.nn.utils.spectral_norm's compute_weight, one power iteration, weight flattened to (OC, -1)"""
    w2 = w.reshape(w.shape[0], -1)
    with torch.no_grad():
        v = F.normalize(torch.mv(w2.t(), u), dim=0, eps=eps)
        u = F.normalize(torch.mv(w2, v), dim=0, eps=eps)
    sigma = torch.dot(u, torch.mv(w2, v))
    return w / sigma, u


Z, W, WD, GROUPS, B, ND, LR = 5, 4, 3, 2, 4, 2, 1e-3
g_names = ["fc.weight", "fc.bias", "gn0.weight", "gn0.bias", "ct1.weight", "ct1.bias", "gn1.weight", "gn1.bias",
           "ct2.weight", "ct2.bias"]
g_shapes = [(2 * W * 49, Z), (2 * W * 49,), (2 * W,), (2 * W,), (2 * W, W, 4, 4), (W,), (W,), (W,), (W, 1, 4, 4), (1,)]
g_scale = [0.3, 0.1, 0.2, 0.1, 0.3, 0.1, 0.2, 0.1, 0.3, 0.1]
d_names = ["c0.weight", "c0.bias", "c1.weight", "c1.bias", "fc.weight", "fc.bias"]
d_shapes = [(WD, 1, 4, 4), (WD,), (2 * WD, WD, 4, 4), (2 * WD,), (1, 2 * WD * 49), (1,)]


def Gf(p, z):
    h = F.linear(z, p[0], p[1]).reshape(-1, 2 * W, 7, 7)
    h = F.relu(F.group_norm(h, GROUPS, p[2], p[3], 1e-5))
    h = F.conv_transpose2d(h, p[4], p[5], stride=2, padding=1)
    h = F.relu(F.group_norm(h, GROUPS, p[6], p[7], 1e-5))
    return torch.tanh(F.conv_transpose2d(h, p[8], p[9], stride=2, padding=1))


def Df(p, U, x):
    """returns D(x) (n,) and the updated SN vectors"""
    w0, u0 = sn(p[0], U[0])
    w1, u1 = sn(p[2], U[1])
    w2, u2 = sn(p[4], U[2])
    h = F.leaky_relu(F.conv2d(x, w0, p[1], stride=2, padding=1), 0.2)
    h = F.leaky_relu(F.conv2d(h, w1, p[3], stride=2, padding=1), 0.2)
    return F.linear(h.reshape(h.shape[0], -1), w2, p[5]).reshape(-1), [u0, u1, u2]


def attempt(seed):
    torch.manual_seed(seed)
    Gp = [(1.0 + torch.randn(*s) * sc if n.startswith("gn") and n.endswith("weight") else torch.randn(*s) * sc)
          for n, s, sc in zip(g_names, g_shapes, g_scale)]
    Dp = [torch.randn(*s) * 0.5 for s in d_shapes]
    U = [F.normalize(torch.randn(s[0]), dim=0) for s in d_shapes[0::2]]
    xr = torch.rand(ND * B, 1, 28, 28) * 2 - 1
    zz = torch.randn((ND + 1) * B, Z)
    return Gp, Dp, U, xr, zz


def iteration(Gp, Dp, U, xr, zz, lam):
    Gp = [p.clone().requires_grad_(True) for p in Gp]
    Dp = [p.clone().requires_grad_(True) for p in Dp]
    U = [u.clone() for u in U]
    optD = torch.optim.Adam(Dp, lr=LR, betas=(0.0, 0.999), eps=1e-8)
    optG = torch.optim.Adam(Gp, lr=LR, betas=(0.0, 0.999), eps=1e-8)
    for s in range(ND):
        with torch.no_grad():
            xf = Gf(Gp, zz[s * B:(s + 1) * B])
        v, U = Df(Dp, U, torch.cat([xf, xr[s * B:(s + 1) * B]]))
        vf, vr = v[:B], v[B:]
        u = torch.clamp(vf, min=-2.0)
        lossD = -torch.clamp(vr, max=5.0).mean() + (u * u / 4 + u).mean()
        optD.zero_grad()
        lossD.backward()
        optD.step()
    xf = Gf(Gp, zz[ND * B:])
    v, U = Df(Dp, U, torch.cat([xf, xr[:B]]))
    vf, vr = v[:B], v[B:]
    rf = torch.clamp(vf, -2.0, 5.0) / 2 + 1
    rr = torch.clamp(vr, -2.0, 5.0) / 2 + 1
    alpha = (0.5 * torch.clamp(lam * rf, max=1.0)).mean() + (0.5 * torch.clamp(1 / rr, max=lam)).mean()
    beta = (0.5 * torch.clamp(rf, max=1 / lam)).mean() + (0.5 * torch.clamp(1 / (lam * rr), max=1.0)).mean()
    lossG = -0.5 * alpha - 0.5 * beta
    active = int(((vf > -2) & (vf < 5) & (lam * rf < 1)).sum())
    optG.zero_grad()
    for p in Dp:
        p.requires_grad_(False)
    lossG.backward()
    optG.step()
    return lossD, lossG, alpha, beta, vf, active, Gp, Dp, U, vr


# pick the first seed whose PR step gives some but not all fakes a gradient (and no fake at a clamp kink),
# and whose real chunk 0 has a critic output in the band where the real halves of alpha^/beta^ are not
# constant (r_r > 1/LAM, i.e. v_r > 2/LAM - 2), so that L_G also checks which real chunk the G step uses
LAM = 2.0
for seed in range(1, 400):
    Gp, Dp, U, xr, zz = attempt(seed)
    res = iteration(Gp, Dp, U, xr, zz, LAM)
    vf, vr = res[4], res[9]
    if 0 < res[5] < B and bool((vf - (2 / LAM - 2)).abs().min() > 1e-2) and bool((vr > 2 / LAM - 2 + 1e-2).any()):
        break
else:
    raise SystemExit("no seed gives a mixed set of active fakes")

dump("cfg", torch.tensor([Z, W, WD, GROUPS, B, ND, LAM, LR]))
for n, p in zip(g_names, Gp):
    dump("G." + n, p)
for n, p in zip(d_names, Dp):
    dump("D." + n, p)
for k, n in enumerate(["c0", "c1", "fc"]):
    dump("D.%s.sn_u" % n, U[k])
dump("xr", xr)
dump("z", zz)

# ---- generator forward / backward ----
Gq = [p.clone().requires_grad_(True) for p in Gp]
z = zz[:B].clone().requires_grad_(True)
x = Gf(Gq, z)
dout = torch.randn_like(x)
(x * dout).sum().backward()
dump("g.dout", dout)
dump("g.out", x)
dump("g.dz", z.grad)
for n, p in zip(g_names, Gq):
    dump("g.d." + n, p.grad)

# ---- critic forward / backward (one SN power iteration) ----
Dq = [p.clone().requires_grad_(True) for p in Dp]
xi = xr[:B].clone().requires_grad_(True)
v, U1 = Df(Dq, [u.clone() for u in U], xi)
dv = torch.randn_like(v)
(v * dv).sum().backward()
dump("d.dout", dv)
dump("d.out", v)
dump("d.dx", xi.grad)
for n, p in zip(d_names, Dq):
    dump("d.d." + n, p.grad)
for k, n in enumerate(["c0", "c1", "fc"]):
    dump("d.u.%s" % n, U1[k])

# ---- one full PR-GAN iteration ----
lossD, lossG, alpha, beta, vf, active, G2, D2, U2, vr = res
dump("it.loss_d", lossD.reshape(1))
dump("it.loss_g", lossG.reshape(1))
dump("it.alpha_beta", torch.stack([alpha, beta]))
for n, p in zip(g_names, G2):
    dump("new.G." + n, p)
    dump("grad.G." + n, p.grad)  # the generator step's gradient (Adam's first step only sees its sign)
for n, p in zip(d_names, D2):
    dump("grad.D." + n, p.grad)  # the last critic step's gradient
for n, p in zip(d_names, D2):
    dump("new.D." + n, p)
for k, n in enumerate(["c0", "c1", "fc"]):
    dump("new.D.%s.sn_u" % n, U2[k])
np.savez_compressed("tests/golden/prdiv_conv_golden.npz", **members)
print("tests/golden/prdiv_conv_golden.npz: seed %d, %d of %d fakes with a PR gradient, v_f %s, v_r %s" %
      (seed, active, B, [round(float(a), 3) for a in vf], [round(float(a), 3) for a in vr]))
