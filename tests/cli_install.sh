#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_install.sh — `cmake --install` of this build into a DESTDIR scratch folder, then: the binary, both
# libraries, every public header and the genmix/genmix.h umbrella (which must include all of them), genmix.pc, the man page and the Python
# package are there; a C program built with `cc $(pkg-config --cflags --libs genmix)` (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR into DESTDIR) links against libgenmix.so and runs; the installed binary prints its
# version; Debian's python3 imports the installed package; the uninstall target removes everything.
# The build's own install_manifest.txt (from a real `make install`) is restored afterwards.
# Exit 77 (skipped) in a sanitizer build. Usage: bash tests/cli_install.sh build/genmix
set -u
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
build="$(dirname "$bin")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! grep -q '^GM_SANITIZE:STRING=$' "$build/CMakeCache.txt" || grep -q '^GM_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
    echo "skipped: sanitizer/fuzz build"; exit 77
fi
prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")"
libdir="$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")"
pydir="$(sed -n 's/^GM_PYTHON_INSTALL_DIR:STRING=//p' "$build/CMakeCache.txt")"
have_py=0
[ -f "$build/python/genmix/_genmix.so" ] && have_py=1
tmp="$(mktemp -d)"
dest="$tmp/dest"
manifest="$build/install_manifest.txt"
[ -f "$manifest" ] && cp -p "$manifest" "$tmp/manifest.saved"
restore() {
    if [ -f "$tmp/manifest.saved" ]; then cp -p "$tmp/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
    rm -rf "$tmp"
}
trap restore EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

DESTDIR="$dest" cmake --install "$build" >"$tmp/install.log" 2>&1 && ok || { bad "cmake --install"; cat "$tmp/install.log"; }
P="$dest$prefix"
for f in bin/genmix "$libdir/libgenmix.a" "$libdir/libgenmix.so" "$libdir/pkgconfig/genmix.pc" \
         include/genmix/genmix.h share/man/man1/genmix.1; do
    [ -e "$P/$f" ] && ok || bad "missing $prefix/$f"
done
for h in "$root"/include/genmix/*.h; do
    b="$(basename "$h")"
    [ "$b" = genmix.h ] || grep -q "#include \"genmix/$b\"" "$root/include/genmix/genmix.h" ||
        bad "the umbrella genmix/genmix.h does not include genmix/$b"
    cmp -s "$h" "$P/include/genmix/$(basename "$h")" || bad "header $(basename "$h") not installed"
done
ok
"$P/bin/genmix" --version | grep -q "License: MIT" && ok || bad "installed genmix --version"

# A C program through pkg-config: umbrella header, shared library, a real call with a known answer.
cat > "$tmp/prog.c" <<'C'
#include <genmix/genmix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    /* FD between {0, 2} and {1, 3} (1-D): means differ by 1, equal variances 2 -> FD = 1. */
    double a[2] = {0, 2}, b[2] = {1, 3};
    gm_feats x = gm_feats_f64(a, 2, 1), y = gm_feats_f64(b, 2, 1);
    gm_fd_result r;
    if (gm_fd(&x, &y, GM_COV_UNBIASED, &r) != GM_OK) { printf("error %s\n", gm_last_error()); return 1; }
    printf("genmix %s fd %.12f\n", gm_version(), r.fd);
    return fabs(r.fd - 1.0) < 1e-12 && strcmp(gm_version(), GENMIX_EXPECTED) == 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$P/$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
flags="$(pkg-config --cflags --libs genmix)" && ok || bad "pkg-config --cflags --libs genmix"
ver="$("$bin" --version | sed -n 's/^genmix //p')"
if cc -std=c11 -o "$tmp/prog" "$tmp/prog.c" -DGENMIX_EXPECTED="\"$ver\"" $flags -lm 2>"$tmp/cc.log"; then
    ok
    ldd "$tmp/prog" | grep -q "$dest.*libgenmix.so" && ok || bad "prog does not load the installed libgenmix.so: $(ldd "$tmp/prog" | grep genmix)"
    out="$("$tmp/prog")" && ok || bad "prog failed: $out"
else
    bad "cc with pkg-config flags: $(cat "$tmp/cc.log")"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

if [ $have_py = 1 ]; then
    [ -f "$P/$pydir/genmix/__init__.py" ] && ok || bad "Python package not installed in $prefix/$pydir"
    if [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; then  # found without PYTHONPATH once installed
        /usr/bin/python3 -c "import sys; sys.exit('$prefix/$pydir' not in sys.path)" && ok ||
            bad "$prefix/$pydir is not on the sys.path of /usr/bin/python3"
    fi
    out="$(cd "$tmp" && PYTHONPATH="$P/$pydir" /usr/bin/python3 -c "
import genmix, numpy as np
assert genmix.__file__.startswith('$dest'), genmix.__file__
r = genmix.eval.prdc(np.random.rand(500, 8), np.random.rand(400, 8), k=5)
assert set(r) >= {'precision', 'recall', 'density', 'coverage'}
print('ok', genmix.__version__)" 2>&1)" && ok || bad "python3 import of the installed package: $out"
else
    echo "note: Python extension not built (python3-dev/python3-numpy missing): package checks skipped"
fi

DESTDIR="$dest" cmake --build "$build" --target uninstall >"$tmp/uninstall.log" 2>&1 && ok || bad "uninstall: $(cat "$tmp/uninstall.log")"
left="$(find "$dest" -type f -o -type l)"
[ -z "$left" ] && ok || bad "files left after uninstall: $left"
[ ! -d "$P/include/genmix" ] && ok || bad "include/genmix left after uninstall"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
