#!/usr/bin/env bash
# Mixture-UCB-CAB: one full run (RKE, T = 3000, m = 5, d = 784) in genmix vs the NumPy reference
# tools/ref_mix.py (same algorithm, same constants, same data shape), measured in the same run.
# Both single-threaded (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1) so the ratio is per core.
# Usage: BUILD=build bash bench/run_mix.sh
set -euo pipefail
BUILD=${BUILD:-build}
T=${GM_BENCH_MIX_T:-3000}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
c_line=$("$BUILD/bench/bench_mix" "$T" 3 32)
c0_line=$("$BUILD/bench/bench_mix" "$T" 1 0)
py_line=$(/usr/bin/python3 tools/ref_mix.py "$T" 5 784)
c_ms=$(echo "$c_line" | cut -f4)
c0_ms=$(echo "$c0_line" | cut -f4)
py_ms=$(echo "$py_line" | cut -f1)
printf 'kernel\tshape\tthreads\tms\tresult\n'
echo "$c_line" | cut -f1-6
echo "$c0_line" | cut -f1-6
printf 'numpy_cab_run\tT=%s,m=5,d=784\t1\t%s\tRKE=%s\tfreq=%s\n' "$T" "$py_ms" "$(echo "$py_line" | cut -f2)" "$(echo "$py_line" | cut -f3)"
awk -v a="$py_ms" -v b="$c_ms" -v c="$c0_ms" 'BEGIN { printf "ratio numpy/genmix: %.1fx (look-ahead 32), %.1fx (per-round GEMV, look-ahead 0); target >= 20x\n", a / b, a / c }'
