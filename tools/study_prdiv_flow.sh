#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_prdiv_flow.sh — the flow half of the lambda study (docs/pr_divergence.md): RealNVP flows on
# toy:8gaussians trained by MLE for PRE steps, then by the PR-divergence (procedure B, weighted MLE with the
# exact ratio) up to ITERS steps, lambda in {0.1, 1, 10}, seeds {1, 2, 3}. Reports the exact-density
# alpha_lambda at lambda = 10 (precision end) and beta_lambda at lambda = 0.1 (recall end), both at
# lambda = 1, and k-NN precision/recall (k = 3) of 10000 flow samples against 10000 data points.
# DATA (environment, toy:8gaussians) picks the toy (toy:25gaussians: the 5 x 5 grid).
# Usage: [DATA=toy:NAME] bash tools/study_prdiv_flow.sh [build/genmix] [OUTDIR] [ITERS] [PRE]. Prints a TSV table.
set -eu
GENMIX=${1:-build/genmix}
OUT=${2:-study-prdiv}
ITERS=${3:-1500}
PRE=${4:-500}
DATA=${DATA:-toy:8gaussians}
tag=${DATA#toy:}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
printf 'data\tseed\tlambda\talpha_10\talpha_1\tbeta_0.1\tprecision_k3\trecall_k3\n'
for seed in 1 2 3; do
  for lam in 0.1 1 10; do
    base="$OUT/flow_${tag}_s${seed}_l${lam}"
    tab=$("$GENMIX" --quiet train flow --objective pr --procedure B --lambda "$lam" --data "$DATA" \
      --iters "$ITERS" --pretrain "$PRE" --seed "$seed" --out "$base.safetensors" --samples "$base.npy" \
      --plot "$base.png" --eval-n 20000)
    "$GENMIX" --quiet train gan --iters 0 --data "$DATA" --seed "$seed" --out "$OUT/tmp_gan.safetensors" \
      --data-samples "$OUT/fdata_${tag}_s${seed}.npy" > /dev/null
    ev=$("$GENMIX" --quiet eval --real "$OUT/fdata_${tag}_s${seed}.npy" --fake "$base.npy" --metrics pr 2> /dev/null)
    get() { echo "$ev" | grep -F -- "$1" | head -1 | awk '{print $NF}'; }
    a10=$(echo "$tab" | awk '$1 == "10" {print $2}')
    a1=$(echo "$tab" | awk '$1 == "1" {print $2}')
    b01=$(echo "$tab" | awk '$1 == "0.1" {print $3}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$DATA" "$seed" "$lam" "$a10" "$a1" "$b01" "$(get 'precision (k=3')" "$(get 'recall (k=3')"
  done
done
