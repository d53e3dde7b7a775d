#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_deps.sh — every Debian package a `make test` / `make demo` / `make bench` script uses (commands,
# Python modules, R libraries) is installed by that target's DEPS_* lists in the Makefile, so each
# target works on a fresh machine (tools/check_deps.py does the scan; this test runs it).
set -u
cd "$(dirname "$0")/.."
if ! command -v dpkg >/dev/null || ! command -v apt-cache >/dev/null; then
  echo "cli_deps: not a Debian system (no dpkg/apt-cache); nothing to check" >&2; exit 0
fi
/usr/bin/python3 tools/check_deps.py test demo bench fuzz
rc=$?
# the check itself can fail: a Makefile whose DEPS_TEST lacks NumPy must be reported
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
sed -e 's/^DEPS_TEST *:=.*/DEPS_TEST := python3/' Makefile > "$T/Makefile"
GM_MAKEFILE="$T/Makefile" /usr/bin/python3 tools/check_deps.py test 2> "$T/err"
if [ $? -ne 1 ] || ! grep -q "python3-numpy" "$T/err"; then
  echo "FAIL: check_deps.py did not report a DEPS_TEST without python3-numpy" >&2; rc=1
fi
exit $rc
