#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_knn_tile.sh — `genmix eval --tile` far beyond the row count (65536 on 40 rows) runs (the in-memory k-NN
# engine cuts the tile to the larger row count instead of allocating tile² per thread: it used to fail "out
# of memory allocating 34359738368 bytes") and prints bitwise the numbers of the default tile.
# usage: bash tests/cli_knn_tile.sh path/to/genmix   (run from the repository root)
set -u
G=${1:?usage: cli_knn_tile.sh path/to/genmix}
T=$(mktemp -d /tmp/gm_cli_tile_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
/usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(3)
np.save(f"{t}/r.npy", r.standard_normal((40, 5)))
np.save(f"{t}/f.npy", r.standard_normal((33, 5)) + 0.3)
PY
for prec in --f64 --f32; do
  "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics pr,prdc $prec --json "$T/d.json" >/dev/null 2>"$T/err" && ok ||
    bad "default tile $prec: $(cat "$T/err")"
  "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics pr,prdc $prec --tile 65536 --json "$T/t.json" >/dev/null 2>"$T/err" && ok ||
    bad "--tile 65536 $prec: $(cat "$T/err")"
  # the results (the timings differ), compared as written: bitwise
  /usr/bin/python3 -c 'import json, sys; a, b = ([{k: v for k, v in r.items() if k != "timings_s"} for r in json.load(open(f))["results"]] for f in sys.argv[1:]); sys.exit(a != b or "precision" not in str(a))' \
    "$T/d.json" "$T/t.json" && ok || bad "$prec: --tile 65536 gives other results than the default tile"
done
echo "cli_knn_tile: $pass passed, $fails failed"
[ "$fails" = 0 ]
