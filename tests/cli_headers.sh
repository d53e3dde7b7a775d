#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_headers.sh — the style's compile-alone test: every public header include/genmix/*.h must compile
# on its own (included twice, so its include guard is exercised) as strict C11 and as C++11.
# Usage: bash tests/cli_headers.sh [path/to/genmix]   (the binary argument from ctest is ignored)
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
shopt -s nullglob
headers=("$root"/include/genmix/*.h)
if [ ${#headers[@]} -eq 0 ]; then
    echo "no headers found under $root/include/genmix"
    echo "0 passed, 1 failed"
    exit 1
fi
have_cxx=1
command -v "$CXX" >/dev/null 2>&1 || have_cxx=0
pass=0
fail=0
for h in "${headers[@]}"; do
    name="genmix/$(basename "$h")"
    src=$(printf '#include "%s"\n#include "%s"\n' "$name" "$name")
    if out=$(printf '%s\n' "$src" | "$CC" -x c -std=c11 -pedantic -Wall -Werror -fsyntax-only \
            -D_POSIX_C_SOURCE=200809L -I "$root/include" - 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL C11   $name"
        printf '%s\n' "$out" | head -20
    fi
    if [ $have_cxx -eq 1 ]; then
        if out=$(printf '%s\n' "$src" | "$CXX" -x c++ -std=c++11 -fsyntax-only \
                -D_POSIX_C_SOURCE=200809L -I "$root/include" - 2>&1); then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "FAIL C++11 $name"
            printf '%s\n' "$out" | head -20
        fi
    fi
done
[ $have_cxx -eq 1 ] || echo "note: $CXX not found, C++ checks skipped"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
