#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_eval_merge.sh — `genmix eval merge-stats`: statistics of three shards of tests/golden/eval_real.npy
# (saved with --save-stats) pooled into one file equal the NumPy mean / covariance / M2 of the whole set
# (1e-9 relative), the pooled file gives the full-set FD, and bad input fails with the documented codes.
# Needs Debian's python3-numpy (DEPS_PYTHON). Usage: bash tests/cli_eval_merge.sh build/genmix
set -u
GENMIX=${1:-build/genmix}
G=tests/golden
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
PY=/usr/bin/python3
$PY -c "import numpy" 2>/dev/null || { echo "skipped: no python3-numpy"; exit 77; }

$PY - "$G/eval_real.npy" "$TMP" <<'PY' || bad "shards"
import sys, numpy as np
x = np.load(sys.argv[1])
for i, (a, b) in enumerate(((0, 100), (100, 250), (250, len(x)))):
    np.save(f"{sys.argv[2]}/s{i}.npy", x[a:b])
np.savez(f"{sys.argv[2]}/fid.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False))
PY
for i in 0 1 2; do
    "$GENMIX" --quiet eval --real "$TMP/s$i.npy" --save-stats "$TMP/s$i.npz" > /dev/null || bad "save-stats shard $i"
done
"$GENMIX" --quiet eval merge-stats --out "$TMP/all.npz" "$TMP/s0.npz" "$TMP/s1.npz" "$TMP/s2.npz" > "$TMP/out" &&
    ok || bad "merge-stats failed"
grep -q "merged 3 statistics files (n = 400, d = 24)" "$TMP/out" && ok || bad "summary line: $(cat "$TMP/out")"
$PY - "$G/eval_real.npy" "$TMP/all.npz" <<'PY' && ok || bad "pooled statistics differ from NumPy"
import sys, numpy as np
x = np.load(sys.argv[1]); s = np.load(sys.argv[2])
assert int(s["n"]) == len(x), s["n"]
np.testing.assert_allclose(s["mu"], x.mean(0), rtol=1e-9, atol=1e-12)
np.testing.assert_allclose(s["sigma"], np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
c = x - x.mean(0)
np.testing.assert_allclose(s["m2"], c.T @ c, rtol=1e-9, atol=1e-10)
assert b"genmix-fdstats" in s["meta"].tobytes()
PY
"$GENMIX" --quiet eval merge-stats --cov-norm biased --out "$TMP/allb.npz" "$TMP/s0.npz" "$TMP/s1.npz" "$TMP/s2.npz" >/dev/null
$PY -c "
import sys, numpy as np
x = np.load('$G/eval_real.npy'); s = np.load('$TMP/allb.npz')
np.testing.assert_allclose(s['sigma'], np.cov(x, rowvar=False, bias=True), rtol=1e-9, atol=1e-12)" && ok ||
    bad "--cov-norm biased"
# the pooled file gives the FD of the whole set
fd_full=$("$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics fd | awk '$1 == "FD" {print $2}')
fd_pool=$("$GENMIX" --quiet eval --real "$TMP/all.npz" --fake $G/eval_fake.npy --metrics fd | awk '$1 == "FD" {print $2}')
awk -v a="$fd_full" -v b="$fd_pool" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-9 * a) }' && ok ||
    bad "FD from pooled stats $fd_pool vs full $fd_full"
# one shard alone is a valid input too
"$GENMIX" --quiet eval merge-stats --out "$TMP/one.npz" "$TMP/s1.npz" >/dev/null && ok || bad "single file"

expect() { # expect CODE WHAT -- cmd...
    local want=$1 what=$2
    shift 3
    "$@" > /dev/null 2> "$TMP/err"
    local rc=$?
    [ "$rc" = "$want" ] && ok || bad "$what: exit $rc, wanted $want"
    if [ "$want" = 1 ]; then [ "$(grep -c 'genmix: error:' "$TMP/err")" = 1 ] && ok || bad "$what: $(cat "$TMP/err")"; fi
}
expect 1 "mu/sigma-only file" -- "$GENMIX" eval merge-stats --out "$TMP/x.npz" "$TMP/s0.npz" "$TMP/fid.npz"
grep -q "fid.npz" "$TMP/err" && ok || bad "error names the file"
"$GENMIX" --quiet eval --real $G/eval_d23.npy --save-stats "$TMP/d23.npz" >/dev/null
expect 1 "dimension mismatch" -- "$GENMIX" eval merge-stats --out "$TMP/x.npz" "$TMP/s0.npz" "$TMP/d23.npz"
expect 1 "missing file" -- "$GENMIX" eval merge-stats --out "$TMP/x.npz" "$TMP/nope.npz"
expect 2 "no --out" -- "$GENMIX" eval merge-stats "$TMP/s0.npz"
expect 2 "no inputs" -- "$GENMIX" eval merge-stats --out "$TMP/x.npz"
expect 0 "help" -- "$GENMIX" eval merge-stats --help
[ ! -e "$TMP/x.npz" ] && ok || bad "an output was written on failure"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
