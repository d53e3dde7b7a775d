#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_prdiv.sh — the lambda study of docs/pr_divergence.md: PR-GANs on toy:8gaussians for lambda in
# {0.1, 1, 10} over seeds {1, 2, 3}; k-NN precision/recall/density/coverage (genmix eval, k = 3 and 5) and
# the k-NN density-ratio alpha/beta at lambda = 1 (genmix pr-curve) of 10000 EMA samples against 10000
# data points; every run first takes PRE generator steps with the chi2 f-GAN loss, then ITERS - PRE with
# the PR loss (EXTRA: further train gan options). Also reports, averaged over the progress lines of the PR
# phase (every 100 steps), the % of fakes in a generator batch that get a non-zero PR-loss gradient
# (-2 < v < 2/lambda - 2) and the % at the chi2 clamp (v <= -2).
# Usage: [SEEDS="1 2 3"] bash tools/study_prdiv.sh [build/genmix] [OUTDIR] [ITERS] [PRE]. Prints a TSV table.
set -eu
GENMIX=${1:-build/genmix}
OUT=${2:-study-prdiv}
ITERS=${3:-3000}
PRE=${4:-1000}
# the spec's settings (batch 128, Adam 2e-4 for G and D, beta1 0, n_D 4)
EXTRA=${EXTRA:---batch 128 --lr-g 2e-4 --lr-d 2e-4}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
printf 'seed\tlambda\tprecision_k3\trecall_k3\tdensity_k5\tcoverage_k5\talpha1_knn\tpct_pr_grad\tpct_clamped\n'
for seed in ${SEEDS:-1 2 3}; do
  for lam in 0.1 1 10; do
    base="$OUT/gan_s${seed}_l${lam}"
    "$GENMIX" train gan --objective pr --lambda "$lam" --data toy:8gaussians --iters "$ITERS" --pretrain "$PRE" --seed "$seed" $EXTRA \
      --log-every 100 --out "$base.safetensors" --samples "$base.npy" --data-samples "$OUT/data_s${seed}.npy" --plot "$base.png" \
      > /dev/null 2> "$base.log"
    ev=$("$GENMIX" --quiet eval --real "$OUT/data_s${seed}.npy" --fake "$base.npy" --metrics pr,prdc 2> /dev/null)
    get() { echo "$ev" | grep -F -- "$1" | head -1 | awk '{print $NF}'; }
    a1=$("$GENMIX" --quiet pr-curve --real "$OUT/data_s${seed}.npy" --fake "$base.npy" --lambda-grid 1 --k 10 | awk '$1 == "1" {print $2}')
    diag=$(awk -v pre="$PRE" '$1 == "step" && $2 > pre { for (i = 1; i < NF; i++) { if ($i == "PR-grad") { g += $(i + 1); n++ } if ($i == "v<=-2") c += $(i + 1) } }
      END { if (n) printf "%.1f\t%.1f", g / n, c / n; else printf "-\t-" }' "$base.log")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seed" "$lam" "$(get 'precision (k=3')" "$(get 'recall (k=3')" \
      "$(get 'density')" "$(get 'coverage')" "$a1" "$diag"
  done
done
