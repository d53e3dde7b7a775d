#!/usr/bin/env bash
# demo stage: latent decode->encode MCMC (issue 5). Runs the linear-Gaussian autoencoder chains of
# spec latent_mcmc.md section 3 (closed form vs simulation; a few seconds) and writes
# $OUT/latent_mcmc_linear.json, $OUT/latent_mcmc_linear.txt and one summary line.
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}"
"$GENMIX" --quiet mcmc-linear --chains 20000 --steps 400 --seed 1 --json "$OUT/latent_mcmc_linear.json" \
  > "$OUT/latent_mcmc_linear.txt"
# summary: simulated vs closed-form stationary variance of the exact Gibbs and the mean-decoding chains
awk '/^VAE exact Gibbs/ {g = sprintf("exact Gibbs var %.3f (theory %.3f)", $7, $6)}
     /^VAE \(Kaixhin\)/ {k = sprintf("mean-decode var %.3f (theory %.3f)", $6, $5)}
     END {printf "latent MCMC (linear AE, lambda 4): %s; %s: mean decoding halves the diversity\n", g, k}' \
  "$OUT/latent_mcmc_linear.txt" >> "$OUT/summary.txt"
