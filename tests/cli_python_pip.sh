#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_python_pip.sh — the setuptools path: `python3 -m pip install --no-build-isolation --no-index --target`
# from a copy of the source tree, offline, with Debian's python3-setuptools and python3-numpy only; the
# package it builds imports and gives the same numbers as the CMake-built one (same C sources).
# Exit 77 (skipped) without pip / the CMake-built extension, or in a sanitizer build.
# Usage: bash tests/cli_python_pip.sh build/genmix
set -u
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
build="$(dirname "$bin")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -f "$build/python/genmix/_genmix.so" ] || ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
    echo "skipped: no CMake-built extension or no pip for /usr/bin/python3"; exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
mkdir "$tmp/src"
(cd "$root" && tar cf - setup.py setup.cfg pyproject.toml CMakeLists.txt include src python) | tar xf - -C "$tmp/src"
if (cd "$tmp" && PIP_NO_INDEX=1 /usr/bin/python3 -m pip install -q --no-build-isolation --no-deps --no-index \
        --target "$tmp/site" "$tmp/src" >"$tmp/pip.log" 2>&1); then
    ok
else
    bad "pip install: $(tail -20 "$tmp/pip.log")"
fi
out="$(cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$tmp/site" "$build/python" "$root/tests/golden" <<'PY' 2>&1
import importlib, json, subprocess, sys
import numpy as np
res = []
for path in sys.argv[1:3]:
    code = f"""
import sys, json, numpy as np
sys.path.insert(0, {path!r})
import genmix, genmix.eval as ge
assert genmix.__file__.startswith({path!r}), genmix.__file__
r = np.load({sys.argv[3]!r} + '/eval_real.npy'); f = np.load({sys.argv[3]!r} + '/eval_fake.npy')
print(json.dumps([ge.fd(r, f).hex(), ge.prdc(r, f)['density'].hex(), ge.kid(r, f, subsets=5, subset_size=100)['mean'].hex(),
                  ge.vendi(f).hex()]))
"""
    res.append(json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                         text=True).stdout))
print(res[0])
assert res[0] == res[1], res
PY
)" && ok || bad "pip-built package differs from the CMake-built one: $out"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
