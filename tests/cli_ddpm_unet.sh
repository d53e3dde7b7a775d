#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of the Fashion-MNIST diffusion model: `genmix train ddpm --data fashion-mnist` (tiny U-Net, a few
# steps) with bitwise --resume, `genmix sample` of the checkpoint (.npy + PNG grid), and `genmix align` with
# the classifier reward (--reward classifier:CLF:CLASSES) on it, plus bad input.
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }
TR="$G --quiet train ddpm --data fashion-mnist --channels 4 --batch 8 --every 2"

$TR --steps 4 --out "$T/a.safetensors" > /dev/null; check "[ $? -eq 0 ]"
$TR --steps 2 --out "$T/b.safetensors" > /dev/null; check "[ $? -eq 0 ]"
$TR --steps 4 --out "$T/b.safetensors" --resume > /dev/null; check "[ $? -eq 0 ]"
check "cmp -s '$T/a.safetensors' '$T/b.safetensors'"
check "cmp -s '$T/a.safetensors.train' '$T/b.safetensors.train'"
$TR --channels 6 --steps 2 --out "$T/c.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
$TR --steps 2 --source "$T/nowhere" --out "$T/c.safetensors" > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "[ ! -e '$T/c.safetensors' ]"

"$G" --quiet sample --model "$T/a.safetensors" --n 3 --steps 5 --out "$T/s.npy" --grid "$T/s.png" > "$T/so"; check "[ $? -eq 0 ]"
check "grep -q ddpm-unet '$T/so'"
check "[ -s '$T/s.png' ]"
/usr/bin/python3 -c "
import numpy as np, sys
x = np.load('$T/s.npy'); sys.exit(0 if x.shape == (3, 784) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1 else 1)"
check "[ $? -eq 0 ]"
# sample k has its own noise streams: N changes the first samples only by round-off (batched BLAS)
"$G" --quiet sample --model "$T/a.safetensors" --n 2 --steps 5 --out "$T/s2.npy" > /dev/null
/usr/bin/python3 -c "
import numpy as np, sys
a = np.load('$T/s.npy'); b = np.load('$T/s2.npy'); sys.exit(0 if abs(a[:2] - b).max() < 1e-3 else 1)"
check "[ $? -eq 0 ]"

# a tiny classifier for the reward
"$G" --quiet train classifier --data fashion-mnist --epochs 1 --limit 512 --out "$T/clf.safetensors" > /dev/null 2>&1; check "[ $? -eq 0 ]"
AL="$G --quiet align --model $T/a.safetensors --alpha 1 --particles 4 --steps 4"
$AL --reward "classifier:$T/clf.safetensors:trouser,bag,sneaker" --out "$T/al" > "$T/alo"; check "[ $? -eq 0 ]"
check "grep -q mean_reward '$T/alo'"
check "[ -s '$T/al/grid.png' ] && [ -s '$T/al/samples.npy' ] && [ -s '$T/al/summary.json' ]"
$AL --reward "classifier:$T/clf.safetensors:trouser,hat" > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
check "grep -q hat '$T/err'"
$AL --reward "classifier:$T/missing.safetensors:bag" > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q missing.safetensors '$T/err'"
# the classifier reward needs 28x28 models
"$G" --quiet align --model toy:gmm2 --alpha 1 --reward "classifier:$T/clf.safetensors:bag" > /dev/null 2>&1; check "[ $? -eq 2 ]"
[ $fail -eq 0 ] && echo "cli_ddpm_unet: ok"
exit $fail
