#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_prdiv_conv.sh — `genmix train gan --data fashion-mnist` (the conv PR-GAN) and `genmix sample` of its
# checkpoints on a tiny model (widths 4, batch 8, 256 training images): a run of 6 steps equals 3 + 3 steps
# through --resume byte for byte; --finetune switches objective and lambda and keeps the step count; sample
# --seed 0 equals train --samples, another stream differs; the grid is a PNG; --clf prints a class histogram
# summing to 1; bad input with the documented exit codes (lambda <= 0 and unknown objective: 2; a toy-GAN
# checkpoint given to --finetune / a missing data folder: 1 with a one-line error). Needs Fashion-MNIST
# (Debian dataset-fashion-mnist).
set -u
GENMIX=${1:-build/genmix}
export OMP_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
expect_exit() { # expect_exit CODE DESCRIPTION command...
  local want=$1 what=$2
  shift 2
  "$@" > "$TMP/out" 2> "$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, wanted $want ($(head -c 300 "$TMP/err"))"; fi
  if [ "$want" = 1 ]; then
    if [ "$(grep -c 'genmix: error:' "$TMP/err")" = 1 ]; then ok; else bad "$what: no one-line error ($(cat "$TMP/err"))"; fi
  fi
}
same() { if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi; }
differ() { if cmp -s "$2" "$3"; then bad "$1: $2 and $3 are identical"; else ok; fi; }

TR="$GENMIX --quiet train gan --data fashion-mnist --limit 256 --g-width 4 --groups 2 --d-width 4 --dim-z 8 --batch 8 --ema-start 2 --seed 5"
$TR --objective chi2 --iters 6 --out "$TMP/a.safetensors" --samples "$TMP/a.npy" --n-samples 50 --grid "$TMP/a.png" > /dev/null || bad "train 6"
$TR --objective chi2 --iters 3 --out "$TMP/b.safetensors" > /dev/null || bad "train 3"
$TR --iters 6 --resume "$TMP/b.safetensors" --out "$TMP/b.safetensors" > /dev/null || bad "resume to 6"
same "6 steps vs 3 + 3 (--resume)" "$TMP/a.safetensors" "$TMP/b.safetensors"
head -c 8 "$TMP/a.png" | od -An -c | grep -q "P   N   G" && ok || bad "grid is not a PNG"

# fine-tuning: new objective and lambda in the checkpoint, the step count goes on
$TR --iters 8 --finetune "$TMP/a.safetensors" --objective pr --lambda 5 --out "$TMP/f.safetensors" > /dev/null || bad "finetune"
cfg=$("$GENMIX" inspect "$TMP/f.safetensors")
echo "$cfg" | grep -q '"objective":"pr","lambda":5,' && ok || bad "finetuned config: $(echo "$cfg" | grep config)"
echo "$cfg" | grep -q "meta step = 8" && ok || bad "finetuned step count"
# the genmix variant pr-nofloor on the conv GAN: recorded, and a fine-tune with it resumes bitwise
$TR --iters 8 --finetune "$TMP/a.safetensors" --objective pr-nofloor --lambda 5 --out "$TMP/n8.safetensors" > /dev/null || bad "finetune pr-nofloor"
"$GENMIX" inspect "$TMP/n8.safetensors" | grep -q '"objective":"pr-nofloor","lambda":5,' && ok || bad "pr-nofloor not in the config"
$TR --iters 7 --finetune "$TMP/a.safetensors" --objective pr-nofloor --lambda 5 --out "$TMP/n7.safetensors" > /dev/null || bad "finetune pr-nofloor 7"
$TR --iters 8 --resume "$TMP/n7.safetensors" --out "$TMP/n78.safetensors" > /dev/null || bad "resume pr-nofloor"
same "pr-nofloor 8 steps vs 7 + 1 (--resume)" "$TMP/n8.safetensors" "$TMP/n78.safetensors"

# sampling
S="$GENMIX --quiet sample"
$S --model "$TMP/a.safetensors" --n 50 --seed 0 --out "$TMP/s0.npy" > /dev/null || bad "sample"
same "sample --seed 0 = train --samples" "$TMP/a.npy" "$TMP/s0.npy"
$S --model "$TMP/a.safetensors" --n 50 --seed 1 --out "$TMP/s1.npy" --grid "$TMP/s1.png" > /dev/null || bad "sample seed 1"
differ "another stream" "$TMP/s0.npy" "$TMP/s1.npy"
$S --model "$TMP/a.safetensors" --n 50 --seed 0 --raw --out "$TMP/sr.npy" > /dev/null || bad "sample raw"
differ "raw vs EMA after ema-start" "$TMP/s0.npy" "$TMP/sr.npy"
"$GENMIX" --quiet train classifier --data fashion-mnist --epochs 1 --limit 256 --out "$TMP/clf.safetensors" > /dev/null 2>&1 || bad "classifier"
$S --model "$TMP/a.safetensors" --n 50 --out "$TMP/s2.npy" --clf "$TMP/clf.safetensors" > "$TMP/cls" || bad "sample --clf"
awk '$1 == "classes" {s = 0; for (i = 2; i <= NF; i++) s += $i; exit !(NF == 11 && s > 0.999 && s < 1.001)}' "$TMP/cls" && ok || bad "class histogram: $(cat "$TMP/cls")"

# bad input
expect_exit 2 "lambda 0" $TR --lambda 0 --out "$TMP/x.safetensors"
expect_exit 2 "unknown objective" $TR --objective wgan --out "$TMP/x.safetensors"
expect_exit 2 "missing --out" $TR --iters 1
"$GENMIX" --quiet train gan --iters 2 --batch 8 --hidden 8 --out "$TMP/toy.safetensors" > /dev/null || bad "toy gan"
expect_exit 1 "toy checkpoint to --finetune" $TR --finetune "$TMP/toy.safetensors" --out "$TMP/x.safetensors"
expect_exit 1 "missing data folder" $TR --data-dir "$TMP/nowhere" --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "a failed run wrote its --out"
expect_exit 2 "sample: --n 0" $S --model "$TMP/a.safetensors" --n 0 --out "$TMP/x.npy"

echo "cli_prdiv_conv: $pass passed, $fail failed"
[ "$fail" = 0 ]
