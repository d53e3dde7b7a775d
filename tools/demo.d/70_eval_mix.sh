#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo stage: evaluate the generators in the classifier's feature space, then mix them online.
# Generators: the VAE's plain samples (T=0), the VAE refined by 10 latent-MCMC steps (T=10), and the
# training set itself (a "perfect" generator), and the PR-GANs of stage 40 when present. Reference: the
# Fashion-MNIST test set.
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}" "${CACHE:?}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
D="$CACHE/fashion-mnist"; CLF="$CACHE/clf.safetensors"; VAE="$CACHE/demo_vae_d16.safetensors"
W="$CACHE/eval_mix"; mkdir -p "$W"
feat() { [ -s "$2" ] || "$GENMIX" --quiet features --model "$CLF" --in "$1" --out "$2" > /dev/null; }
feat "$D/test_images.npy" "$W/real.npy"
feat "$D/train_images.npy" "$W/train.npy"
for t in 0 10; do
  if [ ! -s "$W/vae_t$t.npy" ]; then
    "$GENMIX" --quiet sample --model "$VAE" --n 5000 --mcmc-steps $t --seed 2 --out "$W/vae_t${t}_img.npy" > /dev/null
    feat "$W/vae_t${t}_img.npy" "$W/vae_t$t.npy"
  fi
done
# PR-GANs of stage 40 (features in $W when that stage ran): extra generators and mixing arms
gan=(); gan_names=""
for g in "$W"/gan_l*.npy; do [ -s "$g" ] && gan+=("$g") && gan_names="$gan_names, $(basename "$g" .npy)"; done
"$GENMIX" --quiet eval --real "$W/real.npy" --fake "$W/vae_t0.npy" --fake "$W/vae_t10.npy" --fake "$W/train.npy" \
  ${gan[@]/#/--fake } --metrics fd,kid,prdc --seed 1 --json "$OUT/eval.json" > "$OUT/eval.txt"
awk '/^[^ ].*\.npy/ {split($1, p, "/"); name = p[length(p)]} /^  FD / {fd = $2} /^  KID / {kid = $2}
     /prdc precision/ {pr = $NF} /prdc recall/ {rc = $NF}
     /^  coverage/ {printf "eval %-11s FD %8.3f  KID %8.4f  precision %.3f  recall %.3f  coverage %.3f\n", name, fd, kid, pr, rc, $NF}' \
  "$OUT/eval.txt" >> "$OUT/summary.txt"
"$GENMIX" --quiet mix --arm "$W/vae_t0.npy" --arm "$W/vae_t10.npy" --arm "$W/train.npy" ${gan[@]/#/--arm } --ref "$W/real.npy" \
  --score rke --sigma median --algo cab,ogd,uniform --rounds 3000 --runs 2 --seed 1 --out "$OUT/mix" > "$OUT/mix.txt"
awk -v names="vae_t0, vae_t10, train$gan_names" -v k=$((3 + ${#gan[@]})) \
  '/^cab / {w = ""; for (i = 2; i <= 1 + k; i++) w = w " " $i; printf "mix (RKE diversity; arms %s): Mixture-UCB-CAB weights%s, %s\n", names, w, $(k + 2) " " $(k + 3)}' \
  "$OUT/mix.txt" >> "$OUT/summary.txt"
