#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_prdiv_fmnist.sh — the Fashion-MNIST part of the lambda study of docs/pr_divergence.md: a conv GAN
# pre-trained with the chi2 f-GAN loss for PRE generator steps (n_D 2, batch 64, Adam 1e-3 for G and D with
# beta1 0, seed SEED, default 1), fine-tuned with the PR-divergence generator loss for FT more steps at each lambda of
# LAMBDAS (EMA decay 0.99 while fine-tuning), and measured in the demo classifier's feature space: 10000 EMA samples (stream 0) against the
# 10000 test images — FD, KID, k-NN precision/recall (k = 3), density/coverage (k = 5), the predicted-class
# histogram (entropy, classes holding >= 1 %), an 8x8 grid. The demo VAE (tools/demo.d/60_latent_mcmc.sh;
# 10000 samples, stream 2), the pre-trained chi2 model and a control (the chi2 model fine-tuned FT steps with
# its own loss and the same EMA) are measured the same way; then k-NN PR curves (pr_curves.png/.txt).
# OBJ (pr) is the fine-tuning objective: pr-nofloor = the genmix variant without the lower ratio clamp for
# fakes (docs/pr_divergence.md); its models are named pr-nofloor_l<lambda> (pr: pr_l<lambda>).
# Uses CACHE's clf.safetensors and demo_vae_d16.safetensors (make demo's classifier and VAE; trained here
# with the demo's commands if missing: about 9 and 1 minutes). Fine-tuning runs go in parallel (JOBS at a time).
# Usage: [LAMBDAS="0.2 1 5"] [PRE=1200] [FT=600] [JOBS=3] [OBJ=pr] [SEED=1] bash tools/study_prdiv_fmnist.sh [build/genmix] [CACHE] [OUTDIR]
# Prints a TSV table.
set -eu
GENMIX=$(realpath "${1:-build/genmix}")
CACHE=$(realpath "${2:-cache}")
OUT=$(realpath -m "${3:-results/prdiv_fmnist}")
PRE=${PRE:-1200}; FT=${FT:-600}; JOBS=${JOBS:-3}; OBJ=${OBJ:-pr}; SEED=${SEED:-1}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CLF="$CACHE/clf.safetensors"; VAE="$CACHE/demo_vae_d16.safetensors"
mkdir -p "$CACHE"
[ -f "$CLF" ] || "$GENMIX" --quiet train classifier --data fashion-mnist --out "$CLF" --seed 1 --json "$CACHE/clf.json" > /dev/null
[ -f "$VAE" ] || "$GENMIX" --quiet train vae --data fashion-mnist --latent 16 --hidden 256,128 --epochs 2 \
  --limit 20000 --lr 1e-3 --beta1 0.9 --seed 1 --out "$VAE" > /dev/null
[ -s "$OUT/real.npy" ] || {
  "$GENMIX" --quiet data fashion-mnist --out "$OUT/fmnist" > /dev/null
  "$GENMIX" --quiet features --model "$CLF" --in "$OUT/fmnist/test_images.npy" --out "$OUT/real.npy" > /dev/null; }
[ -f "$OUT/chi2.safetensors" ] || "$GENMIX" train gan --data fashion-mnist --objective chi2 --n-critic 2 --iters "$PRE" \
  --lr-g 1e-3 --lr-d 1e-3 --seed "$SEED" --checkpoint-every 200 --log-every 100 --out "$OUT/chi2.safetensors" > /dev/null 2> "$OUT/chi2.log"
# control: the same fine-tuning budget and EMA with the chi2 loss kept (separates the PR loss from the extra
# steps and the shorter EMA)
[ -f "$OUT/chi2_ft.safetensors" ] || "$GENMIX" train gan --data fashion-mnist --finetune "$OUT/chi2.safetensors" \
  --objective chi2 --ema-decay 0.99 --iters $((PRE + FT)) --log-every 100 --out "$OUT/chi2_ft.safetensors" \
  > /dev/null 2> "$OUT/chi2_ft.log" &
n=1
for lam in ${LAMBDAS:-0.2 1 5}; do
  [ -f "$OUT/${OBJ}_l$lam.safetensors" ] && continue
  "$GENMIX" train gan --data fashion-mnist --finetune "$OUT/chi2.safetensors" --objective "$OBJ" --lambda "$lam" \
    --ema-decay 0.99 --iters $((PRE + FT)) --log-every 100 --out "$OUT/${OBJ}_l$lam.safetensors" > /dev/null 2> "$OUT/${OBJ}_l$lam.log" &
  n=$((n + 1)); [ $((n % JOBS)) -eq 0 ] && wait
done
wait
printf 'model\tFD\tKID\tprecision_k3\trecall_k3\tdensity_k5\tcoverage_k5\tclass_entropy\tclasses_ge_1pct\n'
row() { # name features classes-file
  local ev
  ev=$("$GENMIX" --quiet eval --real "$OUT/real.npy" --fake "$2" --metrics fd,kid,pr,prdc --k-pr 3 --k-dc 5 --seed 1)
  get() { echo "$ev" | grep -E -- "$1" | head -1 | awk '{print $NF}'; }
  printf '%s\t%.2f\t%.3f\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(echo "$ev" | awk '$1 == "FD" {print $2}')" \
    "$(echo "$ev" | awk '$1 == "KID" {print $2}')" "$(get '^  precision')" "$(get '^  recall')" "$(get '^  density')" \
    "$(get '^  coverage')" "$(awk '/^class entropy/ {printf "%.3f\t%d", $3, $NF}' "$3")"
}
for m in chi2 chi2_ft ${LAMBDAS:-0.2 1 5}; do
  name=$m; ck="$OUT/$m.safetensors"
  case $m in chi2*) ;; *) name="${OBJ}_l$m"; ck="$OUT/${OBJ}_l$m.safetensors" ;; esac
  "$GENMIX" --quiet sample --model "$ck" --n 10000 --seed 0 --out "$OUT/${name}_img.npy" --grid "$OUT/$name.png" \
    --clf "$CLF" > "$OUT/$name.classes"
  "$GENMIX" --quiet features --model "$CLF" --in "$OUT/${name}_img.npy" --out "$OUT/$name.npy" > /dev/null
  row "$name" "$OUT/$name.npy" "$OUT/$name.classes"
done
"$GENMIX" --quiet sample --model "$VAE" --n 10000 --mcmc-steps 0 --seed 2 --out "$OUT/vae_img.npy" --grid "$OUT/vae.png" > /dev/null
"$GENMIX" --quiet features --model "$CLF" --in "$OUT/vae_img.npy" --out "$OUT/vae.npy" > /dev/null
echo "(no class histogram for the VAE here)" > "$OUT/vae.classes"
row vae "$OUT/vae.npy" "$OUT/vae.classes"
# k-NN density-ratio PR curves (genmix pr-curve, k = 10) of the fine-tuned models in the same features
fakes=(); for m in chi2_ft ${LAMBDAS:-0.2 1 5}; do
  case $m in chi2*) fakes+=(--fake "$OUT/$m.npy" --label "$m") ;; *) fakes+=(--fake "$OUT/${OBJ}_l$m.npy" --label "lambda $m") ;; esac
done
"$GENMIX" --quiet pr-curve --real "$OUT/real.npy" "${fakes[@]}" --estimator knn --k 10 --lambda-grid 0.2,1,5 \
  --plot "$OUT/${OBJ}_curves.png" > "$OUT/${OBJ}_curves.txt"
