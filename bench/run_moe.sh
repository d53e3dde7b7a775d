#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_moe.sh — genmix moe EM fit time vs R flexmix (FLXMRmultinom + FLXPmultinom(~x), stepFlexmix) on the
# spec's designs A (n = 2000, K = 3) and B (n = 5000, K = 2), k = 2 experts, the same number of restarts,
# tolerance 1e-8 and at most 1000 EM iterations each. Prints per-design times, best log-likelihoods, ratio.
# env: BUILD (build dir, default build), RESTARTS (default 5)
set -euo pipefail
BUILD=${BUILD:-build}
R=${RESTARTS:-5}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BUILD/bench/bench_moe" "$R" 3 > "$tmp/genmix.tsv"
Rscript tools/moe_flexmix.R "$tmp/flexmix.txt" "$R" > /dev/null
echo -e "design\trestarts\tgenmix_s\tflexmix_s\tspeedup\tgenmix_best_ll\tflexmix_ll"
for d in A B; do
  g=$(awk -F'\t' -v k="moe_fit_design_$d" '$1 == k { print $4 / 1e9, $6 }' "$tmp/genmix.tsv")
  f=$(awk -v d="$d" '$1 == d { print $4, $3 }' "$tmp/flexmix.txt")
  set -- $g $f
  awk -v d="$d" -v r="$R" -v gs="$1" -v gl="$2" -v fs="$3" -v fl="$4" \
    'BEGIN { printf "%s\t%d\t%.3f\t%.3f\t%.1fx\t%.6f\t%.6f\n", d, r, gs, fs, fs / gs, gl, fl }'
done
