#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo stage: train the Fashion-MNIST classifier once (cached in $CACHE/clf.safetensors) and report its
# test accuracy. Its penultimate-layer features are the default feature space of `genmix eval`.
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}" "${CACHE:?}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
CLF="$CACHE/clf.safetensors"
if [ -f "$CACHE/clf.json" ] && [ -f "$CLF" ]; then
  echo "classifier: using cached $CLF" >&2
else
  # --resume picks up an interrupted earlier run (checkpoint written after every epoch)
  resume=""
  [ -f "$CLF" ] && resume="--resume"
  "$GENMIX" train classifier --data fashion-mnist --out "$CLF" --seed 1 --json "$CACHE/clf.json" $resume >&2
fi
cp "$CACHE/clf.json" "$OUT/classifier.json"
json_num() { grep -o "\"$1\": *[-0-9.eE+]*" "$OUT/classifier.json" | head -1 | sed 's/.*: *//'; }
acc=$(awk -v a="$(json_num test_accuracy)" -v e="$(json_num epochs)" -v t="$(json_num train_seconds)" \
  'BEGIN { printf "%.2f%% test accuracy, %d epochs, %.0f s", 100 * a, e, t }')
echo "classifier (Fashion-MNIST CNN, feature extractor): $acc" >> "$OUT/summary.txt"
