#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo stage 00 (io): export Fashion-MNIST to $CACHE/fashion-mnist/*.npy once (later stages may read it),
# then inspect the test split into $OUT/data_inspect.json.
set -euo pipefail
D="$CACHE/fashion-mnist"
if [ ! -s "$D/test_labels.npy" ] || [ ! -s "$D/train_images.npy" ]; then
  "$GENMIX" data fashion-mnist --out "$D" >/dev/null
fi
"$GENMIX" inspect --json "$D/test_images.npy" >"$OUT/data_inspect.json"
"$GENMIX" inspect --json "$D/test_labels.npy" >>"$OUT/data_inspect.json"
stats=$("$GENMIX" inspect "$D/train_images.npy" | tail -1 | sed 's/^ *(array) *//')
echo "data: Fashion-MNIST exported to $D (train 60000, test 10000 images); train images: $stats" >>"$OUT/summary.txt"
