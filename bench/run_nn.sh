#!/usr/bin/env bash
# run_nn.sh — genmix vs PyTorch (CPU, Debian python3-torch) training throughput, same run, 2 threads.
# Prints images/s, % of the FLOP limit at the measured SGEMM rate, and the ratio to PyTorch.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-20}
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
out=$("$BUILD/bench/bench_nn" "$STEPS")
ref=$(/usr/bin/python3 tools/ref_nn_bench.py "$STEPS" 2)
echo "$out"
echo "$ref"
g=$(echo "$out" | awk -F'\t' '$1=="sgemm"{print $4}')
m=$(echo "$out" | awk -F'\t' '$1=="train_mlp"{print $4}')
c=$(echo "$out" | awk -F'\t' '$1=="train_cnn"{print $4}')
tm=$(echo "$ref" | awk -F'\t' '$1=="torch_mlp"{print $2}')
tc=$(echo "$ref" | awk -F'\t' '$1=="torch_cnn"{print $2}')
awk -v g="$g" -v m="$m" -v c="$c" -v tm="$tm" -v tc="$tc" 'BEGIN{
  printf "model\tgenmix_img_s\ttorch_img_s\tratio_vs_torch\tpct_of_flop_limit\ttarget\n";
  printf "mlp\t%.0f\t%.0f\t%.2f\t%.1f%%\t>=35%% and >=3x\n", m, tm, m/tm, 100*m*3.2e6/(g*1e9);
  printf "cnn\t%.0f\t%.0f\t%.2f\t%.1f%%\t>=30%% and >=3x\n", c, tc, c/tc, 100*c*25e6/(g*1e9);
  printf "sgemm_gflops\t%.1f\n", g }'
uptime | sed 's/^/# machine load: /'
