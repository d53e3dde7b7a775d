#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_python_extra.sh — runs tests/test_python_align.py (genmix.align over Python callables) and
# tests/test_python_perclass.py (labels=, reference .npz statistics), unittest, with
# Debian's /usr/bin/python3 against the package built in BUILD/python, one OpenMP thread. Exit 77 (skipped)
# when the extension was not built.
# Usage: bash tests/cli_python_extra.sh build/genmix
set -u
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
build="$(dirname "$bin")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -f "$build/python/genmix/_genmix.so" ]; then
    echo "skipped: the Python extension is not built in $build"; exit 77
fi
cd "$root" && PYTHONPATH="$build/python" GM_GENMIX="$bin" OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 -m unittest -v tests/test_python_align.py tests/test_python_perclass.py 2>&1 | tee /dev/stderr |
    awk '/^Ran [0-9]+ test/ {ran = $2} /^OK/ {ok = 1} /^FAILED/ {f = $0}
         END { n = ran + 0; if (ok) printf "%d passed, 0 failed\n", n; else { printf "failed: %s\n", f; exit 1 } }'
