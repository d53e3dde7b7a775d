#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of `genmix train ddpm`: usage errors, bitwise --resume (500 + 500 steps == 1000 steps, both the
# EMA model and the training state), resume without a state file, and the model loading in `genmix align`.
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }
TR="$G --quiet train ddpm --data toy:gmm2 --points 3000 --batch 64 --hidden 16"

"$G" train ddpm --help > "$T/help" 2>&1; check "[ $? -eq 0 ]"
check "grep -q 'usage: genmix train ddpm' '$T/help'"
$TR --steps 0 --out "$T/x.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
$TR --lr -1 --out "$T/x.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" --quiet train ddpm --data toy:nope --out "$T/x.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
$TR --steps 10 > /dev/null 2>&1; check "[ $? -eq 2 ]"   # no --out
$TR --steps 10 --out "$T/none.safetensors" --resume > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q 'none.safetensors.train' '$T/err'"

$TR --steps 1000 --out "$T/a.safetensors" > /dev/null; check "[ $? -eq 0 ]"
$TR --steps 500 --out "$T/b.safetensors" > /dev/null; check "[ $? -eq 0 ]"
$TR --steps 1000 --out "$T/b.safetensors" --resume > /dev/null; check "[ $? -eq 0 ]"
check "cmp -s '$T/a.safetensors' '$T/b.safetensors'"
check "cmp -s '$T/a.safetensors.train' '$T/b.safetensors.train'"
$TR --steps 1000 --out "$T/b.safetensors" --resume > /dev/null 2>&1; check "[ $? -eq 1 ]"   # nothing left to do
"$G" --quiet align --model "$T/a.safetensors" --reward gmm2 --alpha 1 --particles 20 --steps 10 > "$T/al"; check "[ $? -eq 0 ]"
check "grep -q mode_weights '$T/al'"
# the training state is not a model for align: a foreign checkpoint, exit 1 naming what it is
"$G" --quiet align --model "$T/a.safetensors.train" --reward gmm2 --alpha 1 > /dev/null 2> "$T/al.err"; check "[ $? -eq 1 ]"
check "grep -q \"a 'ddpm-mlp-train' checkpoint, not a ddpm-mlp diffusion model\" '$T/al.err'"
# a diverging run (lr 1e30: the loss is NaN at step 1) is a numerical failure: exit 3, one line naming the
# loss, and the file already at --out is kept (no checkpoint, no .train written)
echo keep > "$T/nan.safetensors"
$TR --steps 30 --lr 1e30 --out "$T/nan.safetensors" > /dev/null 2> "$T/err"; check "[ $? -eq 3 ]"
check "grep -q 'loss is' '$T/err'"; check "[ \"\$(cat '$T/nan.safetensors')\" = keep ] && [ ! -e '$T/nan.safetensors.train' ]"
[ $fail -eq 0 ] && echo "cli_train_ddpm: ok"
exit $fail
