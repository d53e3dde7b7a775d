#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Assemble docs/benchmarks.md from the per-module pages docs/bench_*.md (each page's headings move one
# level down). Run after a benchmark page changes: bash tools/bench_doc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
tmp=$(mktemp "$out.XXXXXX")
{
  echo "# genmix benchmarks"
  echo
  echo "Every benchmark compares genmix with a reference measured in the same run (\`make bench\`). Figures below"
  echo "were recorded on the 2-core development machine, often while other jobs were running, so absolute numbers"
  echo "are noisy; each section says how disturbed its run was. This page is assembled from docs/bench_*.md by"
  echo "\`tools/bench_doc.sh\`."
  for f in docs/bench_eval.md docs/bench_nn.md docs/bench_mix.md docs/bench_moe.md; do
    echo
    awk '/^```/ {code = !code} !code && /^#/ {print "#" $0; next} {print}' "$f"
  done
} > "$tmp"
mv "$tmp" "$out"
