#!/usr/bin/env bash
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
acc=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.2f%% test accuracy, %d epochs, %.0f s' % (100*d['test_accuracy'], d['epochs'], d['train_seconds']))" "$OUT/classifier.json")
echo "classifier (Fashion-MNIST CNN, feature extractor): $acc" >> "$OUT/summary.txt"
