#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_limits.sh — limits and messages a new user met: `moe fit --restarts` beyond 1..100000 is a usage error
# naming the option (and Python genmix.moe.fit(restarts=2**62) a ValueError naming restarts, instead of
# running for ever); `mix` on finite float64 values beyond the float32 range (1e300) says so (exit 1), not
# "a sample has a NaN or Inf"; help(genmix.mix.offline) is titled offline(...), not mix_offline.
# The Python part runs when the extension is built in BUILD/python (Debian's /usr/bin/python3).
# usage: bash tests/cli_limits.sh path/to/genmix   (run from the repository root)
set -u
G=${1:?usage: cli_limits.sh path/to/genmix}
build="$(cd "$(dirname "$G")" && pwd)"
T=$(mktemp -d /tmp/gm_cli_limits_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

for r in 0 100001 4611686018427387904; do
  timeout 20 "$G" moe fit --csv examples/two_regime.csv --target label --experts 2 --restarts $r --out "$T/m.json" >/dev/null 2>"$T/err"
  rc=$?
  [ $rc = 2 ] && grep -qF -- "--restarts takes an integer in 1..100000 (got '$r')" "$T/err" && ok ||
    bad "moe fit --restarts $r: exit $rc, $(cat "$T/err")"
done
"$G" --quiet moe fit --csv examples/two_regime.csv --target label --experts 2 --restarts 2 --seed 5 --out "$T/m.json" >/dev/null 2>"$T/err" &&
  [ -s "$T/m.json" ] && ok || bad "moe fit --restarts 2: $(cat "$T/err")"

/usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
a = np.random.default_rng(0).standard_normal((30, 2))
np.save(f"{t}/a.npy", a)
np.save(f"{t}/huge.npy", a * 1e300)
PY
"$G" --quiet mix --arm "$T/a.npy" --arm "$T/huge.npy" --score rke --sigma 1 --rounds 20 --out "$T/mix" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -qF "huge.npy: arm 1 row 0 has a value beyond the float32 range" "$T/err" && ok ||
  bad "mix on 1e300: exit $rc, $(cat "$T/err")"

if [ -f "$build/python/genmix/_genmix.so" ]; then
  PYTHONPATH="$build/python" OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 timeout 60 /usr/bin/python3 - <<'PY' && ok || bad "python limits"
import pydoc, warnings, numpy as np, genmix.mix, genmix.moe
warnings.simplefilter("ignore", RuntimeWarning)  # numpy: "overflow encountered in cast" (1e300 as float32)
X = np.random.default_rng(1).standard_normal((40, 1)); y = (X[:, 0] > 0).astype(np.int64)
for r in (2**62, 100001, 0):
    try:
        genmix.moe.fit(X, y, restarts=r)
        raise SystemExit(f"fit(restarts={r}) did not raise")
    except ValueError as e:
        assert "restarts" in str(e), e
m = genmix.moe.fit(X, y, restarts=2, seed=3)
doc = pydoc.render_doc(genmix.mix.offline, renderer=pydoc.plaintext)
assert "mix_offline" not in doc and "\noffline(arms, *, score='rke'" in doc, doc[:300]
try:
    genmix.mix.offline([X.repeat(2, 1), X.repeat(2, 1) * 1e300], sigma=1.0)
    raise SystemExit("offline on 1e300 did not raise")
except ValueError as e:
    assert "beyond the float32 range" in str(e), e
PY
else
  echo "note: the Python extension is not built in $build/python; its checks skipped"
fi
echo "cli_limits: $pass passed, $fails failed"
[ "$fails" = 0 ]
