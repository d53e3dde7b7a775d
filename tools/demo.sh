#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# genmix's showcase on Fashion-MNIST (run by `make demo`). Each stage is a script in tools/demo.d/,
# run in name order with GENMIX (the binary), OUT (results folder) and CACHE (trained models, kept
# between runs). Writes results/ (JSON + PNG), caches models in cache/, prints a short summary.
set -euo pipefail
export GENMIX=$(realpath "${1:-build/genmix}")
export OUT=$(realpath -m "${GM_RESULTS:-results}")
export CACHE=$(realpath -m "${GM_CACHE:-cache}")
mkdir -p "$OUT" "$CACHE"
: > "$OUT/summary.txt"
t0=$(date +%s)
for stage in tools/demo.d/*.sh; do
  [ -e "$stage" ] || continue
  echo "== $(basename "$stage" .sh)" >&2
  bash "$stage"
done
echo "== genmix demo finished in $(( $(date +%s) - t0 )) s; results in $OUT" >&2
cat "$OUT/summary.txt"
