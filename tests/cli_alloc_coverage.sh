#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_alloc_coverage.sh — every public function that can allocate (tools/list_allocating.py, from gcc's call
# graph) is called by a tests/test_alloc_sweep*.c file, i.e. runs under the allocation-failure sweep.
# Usage: bash tests/cli_alloc_coverage.sh [genmix binary, unused]; run from the source root.
set -u
cd "$(dirname "$0")/.." || exit 1
list=$(python3 tools/list_allocating.py) || { echo "FAIL: tools/list_allocating.py failed"; exit 1; }
[ "$(printf '%s\n' "$list" | wc -l)" -ge 100 ] || { echo "FAIL: implausibly short list"; exit 1; }
missing=0
for f in $list; do
    if ! cat tests/test_alloc_sweep*.c | grep -q "\b$f("; then
        echo "FAIL: $f allocates but no tests/test_alloc_sweep*.c sweeps it"
        missing=$((missing + 1))
    fi
done
[ "$missing" -eq 0 ] || exit 1
echo "ok: $(printf '%s\n' "$list" | wc -l) allocating public functions, all swept"
