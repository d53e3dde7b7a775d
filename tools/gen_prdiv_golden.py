#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixtures for tests/test_prdiv_golden.c (PR-divergence module) from PyTorch (Debian python3-torch,
CPU, float32), written once and committed; the C test does not need torch.
  - spectral norm (one power iteration, PyTorch's order v = W^T u/|.|, u = W v/|.|, sigma = u^T W v, u and
    v constant in the backward): W_sn, the updated u, sigma and dW of sum(G * W_sn);
  - an affine coupling in both directions (s = 2 tanh(s_raw) on the free dims): [y | logdet] and the
    gradients w.r.t. x and st of sum(dout * out);
  - one full PR-GAN iteration of spec §2.2 on the 2-D MLP GAN of src/prdiv/prdiv_gan.c (G z->H->H->2 ReLU;
    critic 2->H->H->1 LeakyReLU 0.2 with spectral norm on every layer, one power iteration per critic call
    on the concatenated [fake; real] batch; n_D chi2 critic steps, then the PR generator loss on fresh noise
    and real chunk 0; Adam beta1 0, beta2 0.999, eps 1e-8): given weights, SN vectors, data and noise, the
    last critic loss, the generator loss and every updated weight.
Output: tests/golden/prdiv_golden.txt, one tensor per line, `name ndim d0 d1 ... v0 v1 ...` (9 significant
digits: exact float32 round trip). Run: /usr/bin/python3 tools/gen_prdiv_golden.py
"""
import torch

torch.manual_seed(2305)
torch.set_num_threads(1)
F = torch.nn.functional
out = open("tests/golden/prdiv_golden.txt", "w")


def dump(name, t):
    t = t.detach().to(torch.float32).contiguous()
    shape = list(t.shape)
    vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
    out.write("%s %d %s %s\n" % (name, len(shape), " ".join(str(s) for s in shape), vals))


def sn(w, u, eps=1e-12):
    """PyTorch's torch.nn.utils.spectral_norm compute_weight with one power iteration (training mode)."""
    with torch.no_grad():
        v = F.normalize(torch.mv(w.t(), u), dim=0, eps=eps)
        u = F.normalize(torch.mv(w, v), dim=0, eps=eps)
    sigma = torch.dot(u, torch.mv(w, v))
    return w / sigma, u, sigma


# ---- spectral norm ----
w = torch.randn(5, 7)
u0 = F.normalize(torch.randn(5), dim=0)
G = torch.randn(5, 7)
dump("sn.w", w)
dump("sn.u0", u0)
dump("sn.g", G)
wr = w.clone().requires_grad_(True)
wsn, u1, sigma = sn(wr, u0)
(G * wsn).sum().backward()
dump("sn.wsn", wsn)
dump("sn.u1", u1)
dump("sn.sigma", sigma.reshape(1))
dump("sn.dw", wr.grad)

# ---- affine coupling ----
B, D = 4, 3
x = torch.randn(B, D)
st = torch.randn(B, 2 * D)
mask = torch.tensor([1.0, 0.0, 1.0])
dump("cp.x", x)
dump("cp.st", st)
dump("cp.mask", mask)
for dname, d in (("fwd", 1), ("inv", -1)):
    xr = x.clone().requires_grad_(True)
    sr = st.clone().requires_grad_(True)
    free = 1 - mask
    s = 2.0 * torch.tanh(sr[:, :D]) * free
    t = sr[:, D:] * free
    y = xr * torch.exp(s) + t if d > 0 else (xr - t) * torch.exp(-s)
    ld = s.sum(1, keepdim=True) * d
    o = torch.cat([y, ld], 1)
    dout = torch.randn(B, D + 1)
    (o * dout).sum().backward()
    dump("cp.%s.dout" % dname, dout)
    dump("cp.%s.out" % dname, o)
    dump("cp.%s.dx" % dname, xr.grad)
    dump("cp.%s.dst" % dname, sr.grad)

# ---- one PR-GAN iteration ----
Z, H, Bg, ND, lam, lr = 3, 8, 6, 2, 1.0, 1e-3
dump("gan.config", torch.tensor([Z, H, Bg, ND, lam, lr]))
g_shapes = [(H, Z), (H,), (H, H), (H,), (2, H), (2,)]
d_shapes = [(H, 2), (H,), (H, H), (H,), (1, H), (1,)]
names = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
Gp = [(torch.randn(*s) * 0.5).requires_grad_(True) for s in g_shapes]
Dp = [(torch.randn(*s) * 0.8).requires_grad_(True) for s in d_shapes]
U = [F.normalize(torch.randn(s[0]), dim=0) for s in d_shapes[0::2]]


def dump_gan(prefix):
    """G, D weights and the SN vectors under their gm_gan tensor names"""
    for n, p in zip(names, Gp):
        dump(prefix + "G." + n, p)
    for n, p in zip(names, Dp):
        dump(prefix + "D." + n, p)
    for k in range(3):
        dump(prefix + "D.%d.sn_u" % (2 * k), U[k])


dump_gan("")
xr = torch.randn(ND * Bg, 2) * 2.0
zz = torch.randn((ND + 1) * Bg, Z)
dump("gan.xr", xr)
dump("gan.z", zz)


def Gf(z):
    h = F.relu(F.linear(z, Gp[0], Gp[1]))
    h = F.relu(F.linear(h, Gp[2], Gp[3]))
    return F.linear(h, Gp[4], Gp[5])


def Df(x):
    h = x
    for k in range(3):
        wsn, U[k], _ = sn(Dp[2 * k], U[k])
        h = F.linear(h, wsn, Dp[2 * k + 1])
        if k < 2:
            h = F.leaky_relu(h, 0.2)
    return h.reshape(-1)


optD = torch.optim.Adam(Dp, lr=lr, betas=(0.0, 0.999), eps=1e-8)
optG = torch.optim.Adam(Gp, lr=lr, betas=(0.0, 0.999), eps=1e-8)
for s in range(ND):
    with torch.no_grad():
        xf = Gf(zz[s * Bg:(s + 1) * Bg])
    v = Df(torch.cat([xf, xr[s * Bg:(s + 1) * Bg]]))
    vf, vr = v[:Bg], v[Bg:]
    u = torch.clamp(vf, min=-2.0)
    lossD = -torch.clamp(vr, max=5.0).mean() + (u * u / 4 + u).mean()
    optD.zero_grad()
    lossD.backward()
    optD.step()
xf = Gf(zz[ND * Bg:])
v = Df(torch.cat([xf, xr[:Bg]]))
vf, vr = v[:Bg], v[Bg:]
rf = torch.clamp(vf, -2.0, 5.0) / 2 + 1
rr = torch.clamp(vr, -2.0, 5.0) / 2 + 1
alpha = (0.5 * torch.clamp(lam * rf, max=1.0)).mean() + (0.5 * torch.clamp(1 / rr, max=lam)).mean()
beta = (0.5 * torch.clamp(rf, max=1 / lam)).mean() + (0.5 * torch.clamp(1 / (lam * rr), max=1.0)).mean()
lossG = -0.5 * alpha - 0.5 * beta
active = int(((vf > -2) & (vf < 5) & (lam * rf < 1)).sum())
assert 0 < active < Bg, "pick data so that some fakes get a PR gradient and some do not (%d of %d)" % (active, Bg)
optG.zero_grad()
for p in Dp:
    p.requires_grad_(False)
lossG.backward()
optG.step()
dump("gan.loss_d", lossD.reshape(1))
dump("gan.loss_g", lossG.reshape(1))
dump("gan.alpha_beta", torch.stack([alpha, beta]))
dump("gan.vf", vf)
dump_gan("new.")
out.close()
print("tests/golden/prdiv_golden.txt: %d of %d fakes with a PR gradient" % (active, Bg))
