#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh — puts the SPDX licence line on every genmix source file, or checks that it is there.
#   bash tools/spdx.sh [--check] [ROOT]      (ROOT defaults to the repository holding this script)
# Files: *.c *.h (line "/* SPDX-License-Identifier: MIT */") and *.sh *.py *.R, CMakeLists.txt, Makefile
# (line "# SPDX-License-Identifier: MIT"), under cli/ src/ include/ tests/ tools/ bench/ fuzz/ python/ and the
# root; data folders (tests/golden, build*) are skipped. The line goes first, or second after a "#!" line.
# Idempotent: a file whose first two lines already carry "SPDX-License-Identifier" is left alone.
# --check changes nothing, lists the files lacking the line and exits 1 if there is any (0 otherwise).
# Files are rewritten through a temporary file in the same folder, keeping their mode.
set -euo pipefail
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
[ -d "$root" ] || { echo "spdx.sh: $root: not a directory" >&2; exit 2; }
tag="SPDX-License-Identifier: MIT"
missing=0
changed=0
while IFS= read -r -d '' f; do
    if head -n 2 "$f" | grep -q "SPDX-License-Identifier"; then continue; fi
    case "$f" in
    *.c | *.h) line="/* $tag */" ;;
    *) line="# $tag" ;;
    esac
    if [ $check = 1 ]; then
        echo "missing SPDX line: ${f#"$root"/}"
        missing=$((missing + 1))
        continue
    fi
    tmp="$(mktemp "$f.spdx.XXXXXX")"
    if head -c 2 "$f" | grep -q '^#!'; then
        { head -n 1 "$f"; printf '%s\n' "$line"; tail -n +2 "$f"; } > "$tmp"
    else
        { printf '%s\n' "$line"; cat "$f"; } > "$tmp"
    fi
    chmod --reference="$f" "$tmp"
    mv -f "$tmp" "$f"
    changed=$((changed + 1))
done < <(find "$root" \( -path "$root/build*" -o -path "$root/.git" -o -path "$root/tests/golden" \
                          -o -path "$root/results" -o -path "$root/cache" -o -name '*.egg-info' \) -prune -o \
              -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' -o -name '*.R' \
                         -o -name CMakeLists.txt -o -name Makefile \) -print0 | sort -z)
if [ $check = 1 ]; then
    [ $missing = 0 ] && exit 0
    echo "$missing file(s) lack the SPDX line (run: bash tools/spdx.sh)" >&2
    exit 1
fi
echo "spdx.sh: added the SPDX line to $changed file(s)"
