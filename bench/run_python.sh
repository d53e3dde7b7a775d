#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run_python.sh — genmix's Python API vs the reference tools' computations (bench/bench_python.py),
# same data and run; N x D from the environment (10000 x 2048 by default). Called by `make bench` with
# BUILD=<build dir>; needs the extension built (python3-dev, python3-numpy), scipy/sklearn and torch (the
# PRC reference). REPS, ONLY and TORCH_THREADS pass through (see bench/bench_python.py).
set -euo pipefail
BUILD=${BUILD:-build}
N=${N:-10000}
D=${D:-2048}
if [ ! -f "$BUILD/python/genmix/_genmix.so" ]; then
  echo "skipped: the Python extension is not built in $BUILD (install python3-dev python3-numpy, rebuild)"; exit 0
fi
PYTHONPATH="$BUILD/python" /usr/bin/python3 bench/bench_python.py "$N" "$D"
