#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_unet.sh — the Fashion-MNIST diffusion U-Net, genmix vs PyTorch (CPU, Debian python3-torch), measured in
# the same run, per core (1 thread, process CPU time: a busy shared machine disturbs this much less).
# Prints seconds per training step (batch 64) and per denoiser forward + input VJP (batch 64), the ratio
# torch/genmix (> 1: genmix faster) and the fraction of the SGEMM FLOP rate measured the same way. The two
# sides alternate ROUNDS times (a loaded machine then biases both alike) and the minimum of each is kept.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-5}
C=${C:-16}
export OMP_WAIT_POLICY=passive
ROUNDS=${ROUNDS:-3} # the two sides alternate ROUNDS times; each figure is the minimum over the rounds
min() { awk -v a="$1" -v b="$2" 'BEGIN{print (a == "" || b + 0 < a + 0) ? b : a}'; }
gt= gv= tt= tv= g=
for r in $(seq "$ROUNDS"); do
  out=$(OMP_NUM_THREADS=1 "$BUILD/bench/bench_unet" "$STEPS" "$C" cpu)
  ref=$(OMP_NUM_THREADS=1 /usr/bin/python3 tools/ref_unet_bench.py "$STEPS" "$C" 1 cpu)
  echo "$out" | sed "s/^/# round $r: /"
  echo "$ref" | sed "s/^/# round $r: /"
  gt=$(min "$gt" "$(echo "$out" | awk -F'\t' '$1=="unet_train_step"{print $4}')")
  gv=$(min "$gv" "$(echo "$out" | awk -F'\t' '$1=="unet_eps_vjp"{print $4}')")
  g=$(awk -v a="$g" -v b="$(echo "$out" | awk -F'\t' '$1=="sgemm"{print $4}')" 'BEGIN{print (a == "" || b + 0 > a + 0) ? b : a}')
  tt=$(min "$tt" "$(echo "$ref" | awk -F'\t' '$1=="torch_train_step"{print $2}')")
  tv=$(min "$tv" "$(echo "$ref" | awk -F'\t' '$1=="torch_eps_vjp"{print $2}')")
done
f=$(echo "$out" | awk -F'\t' '$1=="unet_forward_flops"{print $4 * 1e6}')
# FLOP-rate fractions of the best SGEMM rate: training = 3x forward FLOPs, forward + input VJP = 2x
ft=$(awk -v f="$f" -v t="$gt" -v g="$g" 'BEGIN{print 3 * f * 64 / t / (g * 1e9)}')
fv=$(awk -v f="$f" -v t="$gv" -v g="$g" 'BEGIN{print 2 * f * 64 / t / (g * 1e9)}')
echo "# 1 thread, process CPU time (per core), U-Net C=$C, batch 64, min over $ROUNDS interleaved rounds; SGEMM $g GFLOP/s"
awk -v gt="$gt" -v gv="$gv" -v tt="$tt" -v tv="$tv" -v ft="$ft" -v fv="$fv" 'BEGIN{
  printf "op\tgenmix_s\ttorch_s\tratio_torch_over_genmix\tgenmix_pct_of_sgemm\ttorch_pct_of_sgemm\ttarget\n";
  printf "train_step\t%.4f\t%.4f\t%.2f\t%.1f%%\t%.1f%%\t>=1.5x\n", gt, tt, tt/gt, 100*ft, 100*ft*gt/tt;
  printf "eps_vjp\t%.4f\t%.4f\t%.2f\t%.1f%%\t%.1f%%\t>=1.5x\n", gv, tv, tv/gv, 100*fv, 100*fv*gv/tv }'
uptime | sed 's/^/# machine load: /'
