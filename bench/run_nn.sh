#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_nn.sh — genmix vs PyTorch (CPU, Debian python3-torch) training throughput, measured in the same run.
# 1) the acceptance setting: 2 threads, wall-clock step times; 2) per core: 1 thread, process CPU time
#    (a busy shared machine disturbs this much less: a descheduled process uses no CPU time).
# Each prints images/s, % of the FLOP limit at the SGEMM rate measured the same way, and the ratio to PyTorch.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-20}
export OMP_WAIT_POLICY=passive

table() { # $1 label, $2 bench_nn output, $3 reference output
  local g m c tm tc
  g=$(echo "$2" | awk -F'\t' '$1=="sgemm"{print $4}')
  m=$(echo "$2" | awk -F'\t' '$1=="train_mlp"{print $4}')
  c=$(echo "$2" | awk -F'\t' '$1=="train_cnn"{print $4}')
  tm=$(echo "$3" | awk -F'\t' '$1=="torch_mlp"{print $2}')
  tc=$(echo "$3" | awk -F'\t' '$1=="torch_cnn"{print $2}')
  echo "# $1"
  awk -v g="$g" -v m="$m" -v c="$c" -v tm="$tm" -v tc="$tc" 'BEGIN{
    printf "model\tgenmix_img_s\ttorch_img_s\tratio_vs_torch\tgenmix_pct_of_limit\ttorch_pct_of_limit\ttarget\n";
    printf "mlp\t%.0f\t%.0f\t%.2f\t%.1f%%\t%.1f%%\t>=35%% and >=3x\n", m, tm, m/tm, 100*m*3.2e6/(g*1e9), 100*tm*3.2e6/(g*1e9);
    printf "cnn\t%.0f\t%.0f\t%.2f\t%.1f%%\t%.1f%%\t>=30%% and >=3x\n", c, tc, c/tc, 100*c*25e6/(g*1e9), 100*tc*25e6/(g*1e9);
    printf "sgemm_gflops\t%.1f\n", g }'
}

out=$(OMP_NUM_THREADS=2 "$BUILD/bench/bench_nn" "$STEPS")
ref=$(OMP_NUM_THREADS=2 /usr/bin/python3 tools/ref_nn_bench.py "$STEPS" 2)
out1=$(OMP_NUM_THREADS=1 "$BUILD/bench/bench_nn" "$STEPS" cpu)
ref1=$(OMP_NUM_THREADS=1 /usr/bin/python3 tools/ref_nn_bench.py "$STEPS" 1 cpu)
echo "$out"
echo "$ref"
table "2 threads, wall clock (acceptance setting)" "$out" "$ref"
table "1 thread, process CPU time (per-core rates)" "$out1" "$ref1"
uptime | sed 's/^/# machine load: /'
