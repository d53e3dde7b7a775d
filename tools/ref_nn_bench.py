#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch CPU reference for bench/run_nn.sh: training images/s of the MLP 784-512-256-10 and the CNN
(conv3x3 32, maxpool 2, conv3x3 64, maxpool 2, fc 128, fc 10) at batch 128 with Adam, 2 threads.
Prints TSV lines: torch_mlp <images/s>, torch_cnn <images/s> (best step time of N, like bench_nn).
Usage: ref_nn_bench.py [steps] [threads] [cpu]; with "cpu" the step times are process CPU time (use 1 thread)."""
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
clock = time.process_time if len(sys.argv) > 3 and sys.argv[3] == "cpu" else time.perf_counter
torch.manual_seed(0)


def rate(net, x):
    y = torch.arange(x.shape[0]) % 10
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    best = 1e9
    for it in range(steps + 3):
        t0 = clock()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        dt = clock() - t0
        if it >= 3:
            best = min(best, dt)
    return x.shape[0] / best


nn = torch.nn
mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
cnn = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
print("torch_mlp\t%.1f" % rate(mlp, torch.rand(128, 784)))
print("torch_cnn\t%.1f" % rate(cnn, torch.rand(128, 1, 28, 28)))
