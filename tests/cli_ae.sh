#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of genmix train vae|dvae|aae|daae, sample and interpolate (tiny models on 500 images).
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }
small="--data fashion-mnist --limit 500 --hidden 32,16 --latent 4 --batch 50 --lr 1e-3"

for m in vae dvae aae daae; do
  "$G" train $m --help > "$T/h" 2>&1; check "[ $? -eq 0 ] && grep -q 'usage: genmix train $m' '$T/h'"
done
"$G" train vae --latent 0 --out "$T/x" > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" train vae --latent 4 > /dev/null 2>&1; check "[ $? -eq 2 ]"                      # no --out
"$G" train vae $small --data cifar --out "$T/x" > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" train vae $small --arch transformer --out "$T/x" > /dev/null 2>&1; check "[ $? -eq 2 ]"
# the convolutional option trains and samples
"$G" --quiet train dvae --data fashion-mnist --limit 200 --arch conv --hidden 4,8 --latent 4 --batch 50 --epochs 1 --out "$T/conv.st" > /dev/null
check "[ $? -eq 0 ]"
"$G" --quiet sample --model "$T/conv.st" --n 10 --mcmc-steps 2 --out "$T/conv.npy" > /dev/null; check "[ $? -eq 0 ]"

# training is resumable: 2 epochs in one run == 1 epoch, interruption, --resume (byte-identical files)
"$G" --quiet train daae $small --epochs 2 --seed 5 --out "$T/full.st" > /dev/null; check "[ $? -eq 0 ]"
"$G" --quiet train daae $small --epochs 2 --seed 5 --stop-after 1 --out "$T/part.st" > /dev/null; check "[ $? -eq 0 ]"
"$G" --quiet train daae --resume --limit 500 --out "$T/part.st" > /dev/null; check "[ $? -eq 0 ]"
check "cmp -s '$T/full.st' '$T/part.st'"
"$G" --quiet train vae --resume --limit 500 --out "$T/part.st" > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q 'not a vae' '$T/err'"
"$G" --quiet train vae $small --epochs 1 --out "$T/vae.st" > /dev/null; check "[ $? -eq 0 ]"

# sampling: shapes, determinism, thread invariance, grid
"$G" --quiet sample --model "$T/vae.st" --n 20 --record 0,1,5 --out "$T/s.npy" --grid "$T/s.png" --json "$T/s.json" > /dev/null
check "[ $? -eq 0 ] && [ -s '$T/s.png' ] && [ -s '$T/s.json' ]"
/usr/bin/python3 - "$T/s.npy" <<'PY' || fail=1
import sys, numpy as np
a = np.load(sys.argv[1])
assert a.shape == (3, 20, 784) and a.dtype == np.float32, a.shape
assert 0 <= a.min() and a.max() <= 1
assert np.abs(a[0] - a[2]).max() > 1e-3  # the chain moved
PY
"$G" --quiet --threads 1 sample --model "$T/vae.st" --n 20 --mcmc-steps 5 --decode sample --out "$T/a.npy" > /dev/null
"$G" --quiet --threads 2 sample --model "$T/vae.st" --n 20 --mcmc-steps 5 --decode sample --out "$T/b.npy" > /dev/null
check "cmp -s '$T/a.npy' '$T/b.npy'"
"$G" --quiet sample --model "$T/vae.st" --n 20 --mcmc-steps 5 --decode sample --seed 1 --out "$T/c.npy" > /dev/null
check "! cmp -s '$T/a.npy' '$T/c.npy'"
"$G" sample --model "$T/vae.st" --n 5 --decode median --out "$T/x.npy" > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" sample --model "$T/vae.st" --n 5 --record 5,1 --out "$T/x.npy" > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" sample --model "$T/nope.st" --n 5 --out "$T/x.npy" > /dev/null 2> "$T/err"; check "[ $? -eq 1 ] && grep -q '^genmix: error:' '$T/err'"
printf 'garbage' > "$T/bad.st"
"$G" sample --model "$T/bad.st" --n 5 --out "$T/x.npy" > /dev/null 2>&1; check "[ $? -eq 1 ]"

# interpolation strip
"$G" --quiet interpolate --model "$T/vae.st" --a 0 --b 1 --points 6 --record 0,2 --out "$T/i.png" --npy "$T/i.npy" > /dev/null
check "[ $? -eq 0 ] && [ -s '$T/i.png' ]"
/usr/bin/python3 -c "import numpy as np, sys; a = np.load('$T/i.npy'); assert a.shape == (2, 6, 784)" || fail=1
"$G" interpolate --model "$T/vae.st" --a 99999 --out "$T/i.png" > /dev/null 2>&1; check "[ $? -eq 1 ]"
[ $fail -eq 0 ] && echo "cli_ae: ok"
exit $fail
