#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixtures for tests/test_nn_golden.c: PyTorch (Debian python3-torch 1.13, CPU, float32) forward,
loss, gradients and one Adam step for a small MLP and a small CNN, with weights named like genmix's gm_seq
("<layer index>.weight"). Output: tests/golden/nn_<model>.txt, one tensor per line:
    name ndim d0 d1 ... v0 v1 ...   (values printed with 9 significant digits: exact float32 round trip)
Run: /usr/bin/python3 tools/gen_nn_golden.py
"""
import torch

torch.manual_seed(1234)
torch.set_num_threads(1)


def dump(f, name, t):
    t = t.detach().to(torch.float32).contiguous()
    shape = list(t.shape)
    vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
    f.write("%s %d %s %s\n" % (name, len(shape), " ".join(str(s) for s in shape), vals))


def golden(name, spec, net, x, y):
    with open("tests/golden/nn_%s.txt" % name, "w") as f:
        f.write("spec 0 %s\n" % spec)
        params = dict(net.named_parameters())
        dump(f, "input", x)
        dump(f, "labels", y.to(torch.float32))
        for k, p in params.items():
            dump(f, "w." + k, p)
        xg = x.clone().requires_grad_(True)
        logits = net(xg)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        dump(f, "logits", logits)
        dump(f, "loss", loss.reshape(1))
        dump(f, "dinput", xg.grad)
        for k, p in params.items():
            dump(f, "g." + k, p.grad)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
        opt.step()
        for k, p in params.items():
            dump(f, "adam." + k, p)


# MLP 12-16-8-5, with tanh and gelu (exact erf)
mlp = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.GELU(),
                          torch.nn.Linear(8, 5))
x = torch.randn(6, 12)
y = torch.tensor([0, 1, 2, 3, 4, 1])
golden("mlp", "linear:16,tanh,linear:8,gelu,linear:5", mlp, x, y)

# CNN on 2x8x8: conv3x3 4 (pad 1), relu, maxpool 2, conv3x3 6 (stride 2, pad 1), silu, flatten, linear 3
cnn = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, 1, 1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                          torch.nn.Conv2d(4, 6, 3, 2, 1), torch.nn.SiLU(), torch.nn.Flatten(), torch.nn.Linear(24, 3))
x = torch.randn(4, 2, 8, 8)
y = torch.tensor([0, 2, 1, 2])
golden("cnn", "conv:4:3:1:1,relu,maxpool:2,conv:6:3:2:1,silu,flatten,linear:3", cnn, x, y)
print("wrote tests/golden/nn_mlp.txt tests/golden/nn_cnn.txt")
