#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The latent MCMC study (issue 5 / docs/latent_mcmc.md), reproducible from one command:
#   tools/study_latent_mcmc.sh [build/genmix]
# Env: OUT (results folder, default results/latent_mcmc), CACHE (trained models, default cache),
#      MODELS ("vae daae aae dvae"), EPOCHS (3), LATENT (16), HIDDEN (256,128), N (2000 chains),
#      RECORD (0,1,5,10,50,100), CLF_EPOCHS (1), SEED (1), EVAL (binary with `genmix eval`, default the
#      same binary). Cached models ($CACHE/<model>_d<LATENT>.safetensors) are reused as they are.
# For each model type: train once into $CACHE (skipped when present), run `genmix latent-study`
# (latent MMD^2 to test encodings, drift, class histogram, nearest-training-image distance per step,
# sample .npy files), then `genmix features` (classifier penultimate layer) and `genmix eval`
# (KID/FD/precision/recall/density/coverage of the samples at every step against N test images; also
# uniform-noise images as a sanity baseline). Writes $OUT/<model>/latent.json, eval.json and a
# summary table $OUT/summary.md.
set -euo pipefail
G=$(realpath "${1:-${GENMIX:-build/genmix}}")
OUT=$(realpath -m "${OUT:-results/latent_mcmc}")
CACHE=$(realpath -m "${CACHE:-cache}")
MODELS=${MODELS:-"vae daae aae dvae"}
EPOCHS=${EPOCHS:-3}; LATENT=${LATENT:-16}; HIDDEN=${HIDDEN:-256,128}; N=${N:-2000}
RECORD=${RECORD:-0,1,5,10,50,100}; CLF_EPOCHS=${CLF_EPOCHS:-1}; SEED=${SEED:-1}
mkdir -p "$OUT" "$CACHE"
EVAL=${EVAL:-$G}   # a binary with `genmix eval` (the same one once eval is merged)
have_eval=0; "$EVAL" eval --help > /dev/null 2>&1 && have_eval=1
clf="$CACHE/clf_e${CLF_EPOCHS}.safetensors"
[ -f "$clf" ] || "$G" train classifier --data fashion-mnist --epochs "$CLF_EPOCHS" --out "$clf"
for m in $MODELS; do
  ck="$CACHE/${m}_d${LATENT}.safetensors"
  [ -f "$ck" ] || "$G" train "$m" --data fashion-mnist --latent "$LATENT" --hidden "$HIDDEN" --epochs "$EPOCHS" \
    --lr 1e-3 --beta1 0.9 --seed "$SEED" --out "$ck"
  d="$OUT/$m"; mkdir -p "$d"
  "$G" latent-study --model "$ck" --clf "$clf" --n "$N" --record "$RECORD" --seed "$SEED" --out-dir "$d" | tee "$d/latent.txt"
  "$G" sample --model "$ck" --n 64 --mcmc-steps 0 --out "$d/grid_t0.npy" --grid "$d/grid_t0.png" --seed "$SEED" > /dev/null
  "$G" sample --model "$ck" --n 64 --mcmc-steps 10 --out "$d/grid_t10.npy" --grid "$d/grid_t10.png" --seed "$SEED" > /dev/null
  "$G" sample --model "$ck" --n 64 --mcmc-steps 100 --out "$d/grid_t100.npy" --grid "$d/grid_t100.png" --seed "$SEED" > /dev/null
  if [ $have_eval -eq 1 ]; then
    "$G" features --model "$clf" --in "$d/test.npy" --out "$d/f_test.npy"
    fakes=()
    for t in ${RECORD//,/ }; do
      "$G" features --model "$clf" --in "$d/samples_t$t.npy" --out "$d/f_t$t.npy"
      fakes+=(--fake "$d/f_t$t.npy")
    done
    "$EVAL" eval --real "$d/f_test.npy" "${fakes[@]}" --metrics fd,kid,pr,prdc --kid-subsets 10 --kid-size 1000 \
      --seed "$SEED" --json "$d/eval.json" > "$d/eval.txt"
  fi
done
# sanity baseline: uniform-noise images in the same feature space
if [ $have_eval -eq 1 ]; then
  first=$(echo $MODELS | awk '{print $1}')
  /usr/bin/python3 -c "import numpy as np; np.save('$OUT/noise.npy', np.random.default_rng($SEED).random(($N, 784), dtype=np.float32))"
  "$G" features --model "$clf" --in "$OUT/noise.npy" --out "$OUT/f_noise.npy"
  "$EVAL" eval --real "$OUT/$first/f_test.npy" --fake "$OUT/f_noise.npy" --fake "$OUT/$first/f_t0.npy" --metrics kid \
    --kid-subsets 10 --kid-size 1000 --seed "$SEED" --json "$OUT/sanity.json" > "$OUT/sanity.txt"
fi
/usr/bin/python3 tools/study_latent_mcmc_table.py "$OUT" $MODELS > "$OUT/summary.md"
cat "$OUT/summary.md"
