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
# --eval-clf (an independent classifier scores the output) and --base-samples (stored base samples for
# base/oracle/best-of-n). Scored by the reward's own classifier, E[log p_eval(S|x)] is the mean reward; the
# oracle on stored samples equals the oracle that draws the same samples (same seed and count).
RW="classifier:$T/clf.safetensors:trouser,bag,sneaker"
$AL --reward "$RW" --method base --particles 6 --eval-clf "$T/clf.safetensors" --out "$T/eb" --json > "$T/eb.json"
check "[ $? -eq 0 ]"
$AL --reward "$RW" --method oracle --particles 6 --eval-clf "$T/clf.safetensors" --json > "$T/eo1.json"; check "[ $? -eq 0 ]"
$AL --reward "$RW" --method oracle --particles 6 --eval-clf "$T/clf.safetensors" --base-samples "$T/eb/samples.npy" \
  --json > "$T/eo2.json"; check "[ $? -eq 0 ]"
$AL --reward "$RW" --method best-of-n --particles 3 --runs 2 --eval-clf "$T/clf.safetensors" \
  --base-samples "$T/eb/samples.npy,$T/eb/samples.npy" --json > "$T/en.json"; check "[ $? -eq 0 ]"
/usr/bin/python3 -c "
import json, sys
import numpy as np
b, o1, o2, n = (json.load(open(sys.argv[i])) for i in range(1, 5))
e = b['eval']
assert abs(sum(e['class_hist']) - 1) < 1e-12 and e['set'] == [0, 1, 0, 0, 0, 0, 0, 1, 1, 0]
assert abs(e['log_p_set'] - b['mean_reward']) < 1e-9, (e['log_p_set'], b['mean_reward'])
assert o1['log_mean_zhat'] == o2['log_mean_zhat'] and o1['eval'] == o2['eval']
assert n['runs'] == 2 and n['mean_reward'] >= b['mean_reward'] - 1e-12
f = np.load(sys.argv[5]); assert f.shape == (6, 128) and f.dtype == np.float32
" "$T/eb.json" "$T/eo1.json" "$T/eo2.json" "$T/en.json" "$T/eb/eval_features.npy"
check "[ $? -eq 0 ]"
# DAS over 2 runs also reports the histogram with the runs pooled by their Z^; best-of-n does not
$AL --reward "$RW" --particles 3 --runs 2 --steps 4 --eval-clf "$T/clf.safetensors" --json > "$T/ed.json"; check "[ $? -eq 0 ]"
/usr/bin/python3 -c "
import json, sys
d, n = (json.load(open(sys.argv[i])) for i in (1, 2))
p = d['eval']['pooled_by_zhat']
assert abs(sum(p['class_hist']) - 1) < 1e-12 and 0 <= p['in_set'] <= 1 and len(p['class_hist_se']) == 10
assert 'pooled_by_zhat' not in n['eval']
" "$T/ed.json" "$T/en.json"
check "[ $? -eq 0 ]"
$AL --reward "$RW" --method best-of-n --particles 4 --runs 2 --base-samples "$T/eb/samples.npy" > /dev/null 2> "$T/err"
check "[ $? -eq 1 ]"; check "grep -q -- '--base-samples' '$T/err'"
$AL --reward "$RW" --base-samples "$T/eb/samples.npy" > /dev/null 2>&1; check "[ $? -eq 2 ]"   # DAS samples itself
$AL --reward "$RW" --method oracle --base-samples "$T/s.npy,$T/nowhere.npy" > /dev/null 2> "$T/err"
check "[ $? -eq 1 ]"; check "grep -q nowhere.npy '$T/err'"
$AL --reward "$RW" --eval-clf "$T/nowhere.safetensors" > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q -- '--eval-clf' '$T/err'"
"$G" --quiet align --model toy:gmm2 --alpha 1 --reward gmm2 --eval-clf "$T/clf.safetensors" > /dev/null 2>&1
check "[ $? -ne 0 ]"
# the classifier reward needs 28x28 models
"$G" --quiet align --model toy:gmm2 --alpha 1 --reward "classifier:$T/clf.safetensors:bag" > /dev/null 2>&1; check "[ $? -eq 2 ]"
[ $fail -eq 0 ] && echo "cli_ddpm_unet: ok"
exit $fail
