#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_prdiv.sh — the GAN half of the lambda study of docs/pr_divergence.md. Per seed: one generator is
# pre-trained with the chi2 f-GAN loss (PRE_ITERS steps), then fine-tuned from that checkpoint with the
# PR loss (OBJ: pr = the released chi2 ratio, pr-kl = the KL critic's ratio, pr-nofloor = the genmix variant
# without the ratio's lower clamp for fakes) for FT_ITERS more steps at
# each lambda in {0.1, 1, 10} (train gan --resume ... --objective OBJ --lambda L). Reports k-NN
# precision/recall (k = 3) and density/coverage (k = 5) of 10000 EMA samples against 10000 data points
# (genmix eval), for the pre-trained model ("pre") and each fine-tuned one, and, averaged over the
# progress lines of the fine-tuning (every 100 steps), the % of fakes in a generator batch that get a
# non-zero PR-loss gradient and the % at the chi2 clamp (v <= -2; for pr-nofloor these are part of the
# first %), and the % of samples farther than 3 sigma from every mode of the toy ("off-mode": the bridges
# between modes; read from the .npy with od and awk).
# Settings (environment): DATA (toy:8gaussians), SEEDS ("1 2 3"), PRE_ITERS (8000), FT_ITERS (2000), OBJ
# (pr), PRE_OPTS (the toy settings of the doc: batch 64, Adam 1e-3 for G and D, no spectral norm),
# FT_OPTS (extra fine-tuning options, e.g. --n-critic 20), PRE_REUSE (0; 1 = keep a pre-trained checkpoint
# and data sample already in OUTDIR, e.g. from a run with another OBJ and the same PRE_ITERS/PRE_OPTS).
# Usage: bash tools/study_prdiv.sh [build/genmix] [OUTDIR]. Prints a TSV table.
set -eu
GENMIX=${1:-build/genmix}
OUT=${2:-study-prdiv}
DATA=${DATA:-toy:8gaussians}
PRE_ITERS=${PRE_ITERS:-8000}
FT_ITERS=${FT_ITERS:-2000}
OBJ=${OBJ:-pr}
PRE_OPTS=${PRE_OPTS:---batch 64 --lr-g 1e-3 --lr-d 1e-3 --no-sn}
FT_OPTS=${FT_OPTS:-}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
tag=${DATA#toy:}
printf 'data\tseed\tlambda\tprecision_k3\trecall_k3\tdensity_k5\tcoverage_k5\tpct_pr_grad\tpct_clamped\tpct_offmode\n'
offmode() { # offmode FILE.npy: % of the rows of an (n, 2) float32 array farther than 3 sigma from every mode
  local hl
  hl=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')
  od -An -v -tf4 -j$((10 + hl)) "$1" | awk -v toy="$tag" '{ for (i = 1; i <= NF; i++) v[n++] = $i }
    END {
      if (toy == "25gaussians") { m = 0; for (a = -2; a <= 2; a++) for (b = -2; b <= 2; b++) { cx[m] = a; cy[m] = b; m++ } s = 0.05 }
      else { m = 8; for (k = 0; k < 8; k++) { cx[k] = 2 * cos(k * atan2(0, -1) / 4); cy[k] = 2 * sin(k * atan2(0, -1) / 4) }
             s = toy == "8gaussians-wide" ? 0.2 : 0.1 }
      for (i = 0; i < n; i += 2) { far = 1
        for (k = 0; k < m && far; k++) if ((v[i] - cx[k]) ^ 2 + (v[i + 1] - cy[k]) ^ 2 <= 9 * s * s) far = 0
        off += far }
      printf "%.2f", 200 * off / n }'
}
row() { # row SEED LAMBDA BASE
  local ev
  ev=$("$GENMIX" --quiet eval --real "$OUT/data_${tag}_s$1.npy" --fake "$3.npy" --metrics pr,prdc 2> /dev/null)
  get() { echo "$ev" | grep -F -- "$1" | head -1 | awk '{print $NF}'; }
  local diag="-	-"
  if [ "$2" != pre ]; then
    diag=$(awk '$1 == "step" { for (i = 1; i < NF; i++) { if ($i == "PR-grad") { g += $(i + 1); n++ } if ($i == "v<=-2") c += $(i + 1) } }
      END { if (n) printf "%.1f\t%.1f", g / n, c / n; else printf "-\t-" }' "$3.log")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$DATA" "$1" "$2" "$(get 'precision (k=3')" "$(get 'recall (k=3')" \
    "$(get 'density')" "$(get 'coverage')" "$diag" "$(offmode "$3.npy")"
}
for seed in ${SEEDS:-1 2 3}; do
  pre="$OUT/gan_${tag}_s${seed}_pre"
  if [ "${PRE_REUSE:-0}" != 1 ] || [ ! -s "$pre.safetensors" ] || [ ! -s "$pre.npy" ] || [ ! -s "$OUT/data_${tag}_s${seed}.npy" ]; then
    "$GENMIX" train gan --objective chi2 --data "$DATA" --iters "$PRE_ITERS" --seed "$seed" $PRE_OPTS --log-every 100 \
      --out "$pre.safetensors" --samples "$pre.npy" --data-samples "$OUT/data_${tag}_s${seed}.npy" > /dev/null 2> "$pre.log"
  fi
  row "$seed" pre "$pre"
  for lam in 0.1 1 10; do
    base="$OUT/gan_${tag}_s${seed}_${OBJ}_l${lam}"
    "$GENMIX" train gan --resume "$pre.safetensors" --objective "$OBJ" --lambda "$lam" --iters $((PRE_ITERS + FT_ITERS)) \
      $FT_OPTS --log-every 100 --out "$base.safetensors" --samples "$base.npy" --plot "$base.png" > /dev/null 2> "$base.log"
    row "$seed" "$lam" "$base"
  done
done
