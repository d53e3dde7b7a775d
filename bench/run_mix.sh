#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mixture-UCB-CAB: one full run (RKE, T = 3000, m = 5, d = 784) in genmix vs the NumPy reference
# tools/ref_mix.py (same algorithm, same constants, same data shape), measured in the same run, twice:
# per core (both single-threaded: OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1) and on the whole 2-core
# machine (both with 2 threads; genmix runs the look-ahead SGEMM blocks of its one run as OpenMP tasks,
# NumPy/OpenBLAS threads its GEMVs).
# Usage: BUILD=build bash bench/run_mix.sh
set -euo pipefail
BUILD=${BUILD:-build}
T=${GM_BENCH_MIX_T:-3000}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
printf 'kernel\tshape\tthreads\tms\tresult\n'
for th in 1 2; do
  export OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th
  c_line=$("$BUILD/bench/bench_mix" "$T" 3 32)
  c0_line=$("$BUILD/bench/bench_mix" "$T" 1 0)
  py_line=$(/usr/bin/python3 tools/ref_mix.py "$T" 5 784)
  c_ms=$(echo "$c_line" | cut -f4)
  c0_ms=$(echo "$c0_line" | cut -f4)
  py_ms=$(echo "$py_line" | cut -f1)
  echo "$c_line" | cut -f1-6
  echo "$c0_line" | cut -f1-6
  printf 'numpy_cab_run\tT=%s,m=5,d=784\t%s\t%s\tRKE=%s\tfreq=%s\n' "$T" "$th" "$py_ms" "$(echo "$py_line" | cut -f2)" "$(echo "$py_line" | cut -f3)"
  awk -v a="$py_ms" -v b="$c_ms" -v c="$c0_ms" -v th="$th" 'BEGIN { printf "ratio numpy/genmix, %d thread(s) each: %.1fx (look-ahead 32), %.1fx (per-round GEMV, look-ahead 0); target >= 20x\n", th, a / b, a / c }'
done
