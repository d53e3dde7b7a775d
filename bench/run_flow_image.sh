#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_flow_image.sh — one training step of the Fashion-MNIST multi-scale RealNVP (batch 64, 2 scales × 3 couplings
# per group, hidden 32, 1 residual block), genmix vs PyTorch (CPU, Debian python3-torch) on the same model,
# measured in the same run, per core (1 thread, process CPU time). The two sides are interleaved ROUNDS times and
# each keeps its minimum, so a loaded machine biases both alike. Prints seconds per step, the ratio torch/genmix
# (> 1: genmix faster) and the fraction of the SGEMM FLOP rate.
set -euo pipefail
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-3}
HID=${HID:-32}; NRES=${NRES:-1}
export OMP_WAIT_POLICY=passive
gbest=1e9; tbest=1e9; out=""
for r in $(seq "$ROUNDS"); do
  o=$(OMP_NUM_THREADS=1 "$BUILD/bench/bench_flow_image" "$ITERS" "$HID" "$NRES" cpu)
  t=$(OMP_NUM_THREADS=1 /usr/bin/python3 tools/ref_flow_image_bench.py "$ITERS" "$HID" "$NRES" 1 cpu | awk -F'\t' '{print $2}')
  g=$(echo "$o" | awk -F'\t' '$1=="flow_step"{print $4}')
  echo "# round $r: genmix $g s, torch $t s"
  if awk -v a="$g" -v b="$gbest" 'BEGIN{exit !(a < b)}'; then gbest=$g; out=$o; fi
  if awk -v a="$t" -v b="$tbest" 'BEGIN{exit !(a < b)}'; then tbest=$t; fi
done
echo "$out"
fr=$(echo "$out" | awk -F'\t' '$1=="flow_fraction_of_limit"{print $4}')
echo "# 1 thread, process CPU time (per core), hidden $HID, $NRES residual block(s), batch 64, min of $ROUNDS interleaved rounds x $ITERS steps"
awk -v g="$gbest" -v t="$tbest" -v f="$fr" 'BEGIN{
  printf "op\tgenmix_s\ttorch_s\tratio_torch_over_genmix\tgenmix_pct_of_sgemm\ttorch_pct_of_sgemm\ttarget\n";
  printf "flow_step\t%.4f\t%.4f\t%.2f\t%.1f%%\t%.1f%%\t>=1.5x\n", g, t, t/g, 100*f, 100*f*g/t }'
uptime | sed 's/^/# machine load: /'
