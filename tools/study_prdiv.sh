#!/usr/bin/env bash
# study_prdiv.sh — the lambda study of docs/pr_divergence.md: PR-GANs on toy:8gaussians for lambda in
# {0.1, 1, 10} over seeds {1, 2, 3}; k-NN precision/recall/density/coverage (genmix eval, k = 3 and 5) and
# the k-NN density-ratio alpha/beta at lambda = 1 (genmix pr-curve) of 10000 EMA samples against 10000
# data points; every run first takes PRE generator steps with the chi2 f-GAN loss, then ITERS - PRE with
# the PR loss (EXTRA: further train gan options). Usage: bash tools/study_prdiv.sh [build/genmix] [OUTDIR] [ITERS] [PRE]. Prints a TSV table.
set -eu
GENMIX=${1:-build/genmix}
OUT=${2:-study-prdiv}
ITERS=${3:-3000}
PRE=${4:-1000}
# toy settings: batch 64, Adam lr 1e-3 for G and D (the spec's 2e-4 / 128 leave a 3000-step run blurry)
EXTRA=${EXTRA:---batch 64 --lr-g 1e-3 --lr-d 1e-3}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
printf 'seed\tlambda\tprecision_k3\trecall_k3\tdensity_k5\tcoverage_k5\talpha1_knn\n'
for seed in 1 2 3; do
  for lam in 0.1 1 10; do
    base="$OUT/gan_s${seed}_l${lam}"
    "$GENMIX" --quiet train gan --objective pr --lambda "$lam" --data toy:8gaussians --iters "$ITERS" --pretrain "$PRE" --seed "$seed" $EXTRA \
      --out "$base.safetensors" --samples "$base.npy" --data-samples "$OUT/data_s${seed}.npy" --plot "$base.png" > /dev/null
    ev=$("$GENMIX" --quiet eval --real "$OUT/data_s${seed}.npy" --fake "$base.npy" --metrics pr,prdc 2> /dev/null)
    get() { echo "$ev" | grep -F -- "$1" | head -1 | awk '{print $NF}'; }
    a1=$("$GENMIX" --quiet pr-curve --real "$OUT/data_s${seed}.npy" --fake "$base.npy" --lambda-grid 1 --k 10 | awk '$1 == "1" {print $2}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seed" "$lam" "$(get 'precision (k=3')" "$(get 'recall (k=3')" \
      "$(get 'density')" "$(get 'coverage')" "$a1"
  done
done
