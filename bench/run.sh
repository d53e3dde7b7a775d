#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every bench/run_*.sh (each compares genmix with a reference measured in the same run).
# Usage: bench/run.sh BUILD_DIR
set -euo pipefail
export BUILD=$(realpath "${1:-build}")
for b in bench/run_*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b" .sh)"
  bash "$b"
done
