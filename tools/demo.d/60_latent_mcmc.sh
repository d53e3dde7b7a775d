#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo stage: latent decode->encode MCMC (issue 5).
# 1. linear-Gaussian autoencoder chains, closed form vs simulation (a few seconds);
# 2. a small VAE on Fashion-MNIST (trained once into $CACHE, ~1 minute), samples after T = 0 and T = 10
#    chain steps as PNG grids, and the per-step study measurements for 1000 chains.
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}" "${CACHE:?}"
"$GENMIX" --quiet mcmc-linear --chains 20000 --steps 400 --seed 1 --json "$OUT/latent_mcmc_linear.json" \
  > "$OUT/latent_mcmc_linear.txt"
awk '/^VAE exact Gibbs/ {g = sprintf("exact Gibbs var %.3f (theory %.3f)", $7, $6)}
     /^VAE \(Kaixhin\)/ {k = sprintf("mean-decode var %.3f (theory %.3f)", $6, $5)}
     END {printf "latent MCMC (linear AE, lambda 4): %s; %s: mean decoding halves the diversity\n", g, k}' \
  "$OUT/latent_mcmc_linear.txt" >> "$OUT/summary.txt"

vae="$CACHE/demo_vae_d16.safetensors"
[ -f "$vae" ] || "$GENMIX" --quiet train vae --data fashion-mnist --latent 16 --hidden 256,128 --epochs 2 \
  --limit 20000 --lr 1e-3 --beta1 0.9 --seed 1 --out "$vae" > /dev/null
"$GENMIX" --quiet sample --model "$vae" --n 64 --mcmc-steps 0 --seed 1 --out "$OUT/latent_mcmc_vae_t0.npy" \
  --grid "$OUT/latent_mcmc_vae_t0.png" > /dev/null
"$GENMIX" --quiet sample --model "$vae" --n 64 --mcmc-steps 10 --seed 1 --out "$OUT/latent_mcmc_vae_t10.npy" \
  --grid "$OUT/latent_mcmc_vae_t10.png" > /dev/null
clf=""
for c in "$CACHE"/clf*.safetensors; do [ -f "$c" ] && clf="--clf $c" && break; done
"$GENMIX" --quiet latent-study --model "$vae" $clf --n 1000 --record 0,10,100 --train-subset 5000 --seed 1 \
  --out-dir "$OUT/latent_mcmc_vae" > "$OUT/latent_mcmc_vae.txt"
awk '$1 == "0" {m0 = $2; n0 = $7; f0 = $8} $1 == "100" {m1 = $2; n1 = $7; f1 = $8}
     END {printf "latent MCMC (VAE d=16, 1000 chains): latent MMD^2 to test codes %.4f at T=0 -> %.4f at T=100; nearest-training distance %.2f -> %.2f, near-copies %.1f%% -> %.1f%%\n", m0, m1, n0, n1, 100*f0, 100*f1}' \
  "$OUT/latent_mcmc_vae.txt" >> "$OUT/summary.txt"
