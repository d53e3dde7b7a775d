#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo stage (issue 15, PR-divergence GANs): a conv GAN on Fashion-MNIST pre-trained with the chi2 f-GAN loss,
# then fine-tuned with the PR-divergence generator loss at two trade-offs, lambda 0.2 (recall) and lambda 5
# (precision). All three checkpoints are cached in $CACHE (first run: about 8 min of one core; later runs
# only sample). Writes sample grids to $OUT, the generators' classifier features to $CACHE/eval_mix (the
# next stage evaluates them and mixes them as arms) and a summary line with the class histograms.
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}" "${CACHE:?}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
CLF="$CACHE/clf.safetensors"
W="$CACHE/eval_mix"; mkdir -p "$W"
PRE="$CACHE/gan_chi2.safetensors"
PRE_ITERS=1200; FT_ITERS=1800   # fine-tuning: 600 generator steps after the pre-training
# --resume continues an interrupted run (a checkpoint every 200 steps); a finished one is left alone
train() { # out iters [args...]
  local out=$1 iters=$2; shift 2
  local step=0
  [ -f "$out" ] && step=$("$GENMIX" inspect "$out" 2>/dev/null | awk '$1 == "meta" && $2 == "step" {print $4}')
  [ "${step:-0}" -ge "$iters" ] && return 0
  if [ -f "$out" ]; then set -- --resume "$out"; fi
  "$GENMIX" --quiet train gan --data fashion-mnist --iters "$iters" --seed 1 --checkpoint-every 200 --out "$out" "$@" > /dev/null
}
train "$PRE" $PRE_ITERS --objective chi2 --n-critic 2 --lr-g 1e-3 --lr-d 1e-3
line="PR-GAN (conv, Fashion-MNIST, chi2 pre-training + PR fine-tuning):"
for lam in 0.2 5; do
  ck="$CACHE/gan_pr_l$lam.safetensors"
  if [ -f "$ck" ]; then train "$ck" $FT_ITERS; else train "$ck" $FT_ITERS --finetune "$PRE" --objective pr --lambda $lam --ema-decay 0.99; fi
  if [ ! -s "$W/gan_l$lam.npy" ] || [ "$ck" -nt "$W/gan_l$lam.npy" ]; then
    "$GENMIX" --quiet sample --model "$ck" --n 5000 --seed 2 --out "$W/img_gan_l$lam.npy" --clf "$CLF" \
      > "$W/gan_l$lam.classes"
    "$GENMIX" --quiet features --model "$CLF" --in "$W/img_gan_l$lam.npy" --out "$W/gan_l$lam.npy" > /dev/null
  fi
  "$GENMIX" --quiet sample --model "$ck" --n 64 --seed 1 --out "$OUT/gan_l${lam}_grid.npy" --grid "$OUT/gan_l$lam.png" > /dev/null
  line="$line lambda $lam: $(awk '/^class entropy/ {printf "class entropy %.2f nats, %d classes >= 1%%", $3, $NF}' "$W/gan_l$lam.classes");"
done
echo "$line grids gan_l0.2.png, gan_l5.png" >> "$OUT/summary.txt"
