#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Golden fixture for tests/test_optim.c: several steps of torch.optim SGD (momentum, Nesterov), Adam and
AdamW, all with weight decay, on the quadratic loss 0.5 * sum(a_i (p_i - c_i)^2), so the gradient
a * (p - c) depends on the current parameters (the C test recomputes it in float32 each step).
Output: tests/golden/optim_steps.txt, one line per (optimiser, step):
    <name> <step> p0 p1 ... p4          (9 significant digits: exact float32 round trip)
Run once: /usr/bin/python3 tools/gen_optim_golden.py
"""
import torch

torch.set_num_threads(1)
P0 = [1.0, -2.0, 0.5, 3.0, -0.25]
A = [1.0, 0.5, 2.0, 0.1, 4.0]
C = [0.5, 1.0, -1.0, 0.0, 0.3]
LR = 0.05
STEPS = 6
CONFIGS = [
    ("sgd_wd", lambda p: torch.optim.SGD([p], lr=LR, momentum=0.9, weight_decay=0.1)),
    ("sgd_nesterov_wd", lambda p: torch.optim.SGD([p], lr=LR, momentum=0.9, nesterov=True, weight_decay=0.2)),
    ("adam_wd", lambda p: torch.optim.Adam([p], lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5)),
    ("adamw_wd", lambda p: torch.optim.AdamW([p], lr=LR, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.5)),
]

a = torch.tensor(A, dtype=torch.float32)
c = torch.tensor(C, dtype=torch.float32)
with open("tests/golden/optim_steps.txt", "w") as f:
    for name, make in CONFIGS:
        p = torch.tensor(P0, dtype=torch.float32, requires_grad=True)
        opt = make(p)
        for step in range(1, STEPS + 1):
            opt.zero_grad()
            with torch.no_grad():
                p.grad = a * (p - c)
            opt.step()
            f.write("%s %d %s\n" % (name, step, " ".join("%.9g" % v for v in p.detach().tolist())))
