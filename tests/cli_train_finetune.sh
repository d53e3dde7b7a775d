#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of `genmix train ddpm-finetune`: a tiny toy model fine-tuned for 3 epochs writes a ddpm-mlp
# checkpoint that genmix align --method base samples and a per-epoch JSON trace; usage errors (alpha <= 0,
# missing alpha, unknown reward, another model type) exit 2 and write nothing; the same run twice gives the
# same bytes.
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }

"$G" --quiet train ddpm --data toy:gmm2 --points 1000 --batch 64 --hidden 8 --steps 50 --out "$T/m.safetensors" > /dev/null
check "[ $? -eq 0 ]"
FT="$G --quiet train ddpm-finetune --model $T/m.safetensors --reward gmm2 --epochs 3 --steps 5 --batch 16 --lr 1e-3"
"$G" train ddpm-finetune --help > "$T/help" 2>&1; check "[ $? -eq 0 ]"
check "grep -q 'usage: genmix train ddpm-finetune' '$T/help'"
$FT --alpha 0 --out "$T/bad.safetensors" > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
check "grep -q -- '--alpha' '$T/err'"
$FT --alpha -1 --out "$T/bad.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
$FT --out "$T/bad.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"   # no --alpha
"$G" --quiet train ddpm-finetune --model "$T/m.safetensors" --reward nope --alpha 1 --out "$T/bad.safetensors" > /dev/null 2>&1
check "[ $? -eq 2 ]"
# another model type: the training state, and a non-diffusion checkpoint
"$G" --quiet train ddpm-finetune --model "$T/m.safetensors.train" --reward gmm2 --alpha 1 --out "$T/bad.safetensors" > /dev/null 2> "$T/err"
check "[ $? -eq 2 ]"
check "grep -q 'not a ddpm-mlp' '$T/err'"
check "[ ! -e '$T/bad.safetensors' ] && [ ! -e '$T/bad.safetensors.json' ]"

$FT --alpha 1 --out "$T/ft.safetensors" > "$T/out"; check "[ $? -eq 0 ]"
check "grep -q 'ddpm-finetune: 3 epochs' '$T/out'"
check "python3 -c \"import json; d = json.load(open('$T/ft.safetensors.json')); e = d['epochs']; assert len(e) == 3 and len(e[0]['mode_weights']) == 8 and e[0]['kl'] == 0 and e[2]['kl'] > 0 and abs(sum(d['closed_form']['mode_weights']) - 1) < 1e-9\""
$FT --alpha 1 --out "$T/ft2.safetensors" --trace "$T/tr2.json" --snapshot 2 > /dev/null; check "[ $? -eq 0 ]"
check "[ -s '$T/ft2.safetensors.epoch2.safetensors' ] && [ ! -e '$T/ft2.safetensors.epoch3.safetensors' ]"
check "cmp -s '$T/ft.safetensors' '$T/ft2.safetensors'"
"$G" --quiet align --model "$T/ft.safetensors" --reward gmm2 --alpha 1 --particles 20 --steps 10 --method base > "$T/al"
check "[ $? -eq 0 ]"
check "grep -q mode_weights '$T/al'"
[ $fail -eq 0 ] && echo "cli_train_finetune: ok"
exit $fail
