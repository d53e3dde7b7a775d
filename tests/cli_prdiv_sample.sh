#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_prdiv_sample.sh — `genmix sample` on GAN and flow checkpoints and `genmix flow logprob`:
# sampling determinism in --seed (same stream = same bytes, another stream differs, stream 0 of a GAN and
# stream 1 of a flow equal what train gan|flow --samples wrote), the scatter PNG, log q against an
# independent pure-Python evaluation of the RealNVP read from the checkpoint (1e-4), ∫ q over a grid = 1,
# and bad input with the documented exit codes. Needs python3 only (no numpy).
set -u
GENMIX=${1:-build/genmix}
export OMP_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
expect_exit() { # expect_exit CODE DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" > "$TMP/out" 2> "$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, wanted $want ($(head -c 300 "$TMP/err"))"; fi
  if [ "$want" = 1 ]; then
    if [ "$(grep -c 'genmix: error:' "$TMP/err")" = 1 ]; then ok; else bad "$what: no one-line error ($(cat "$TMP/err"))"; fi
  fi
}
same() { if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi; }
differ() { if cmp -s "$2" "$3"; then bad "$1: $2 and $3 are identical"; else ok; fi; }

"$GENMIX" --quiet train gan --iters 30 --batch 32 --ema-start 10 --seed 3 --out "$TMP/g.safetensors" \
  --samples "$TMP/g_train.npy" --n-samples 700 > /dev/null || bad "train gan"
"$GENMIX" --quiet train flow --procedure B --iters 40 --seed 4 --out "$TMP/f.safetensors" \
  --samples "$TMP/f_train.npy" --n-samples 700 > /dev/null || bad "train flow"

# ---- sampling ----
S="$GENMIX --quiet sample"
$S --model "$TMP/g.safetensors" --n 700 --seed 0 --out "$TMP/g0.npy" --plot "$TMP/g0.png" > /dev/null || bad "sample gan"
$S --model "$TMP/g.safetensors" --n 700 --seed 0 --out "$TMP/g0b.npy" > /dev/null || bad "sample gan again"
$S --model "$TMP/g.safetensors" --n 700 --seed 9 --out "$TMP/g9.npy" > /dev/null || bad "sample gan seed 9"
$S --model "$TMP/g.safetensors" --n 700 --seed 0 --raw --out "$TMP/g0raw.npy" > /dev/null || bad "sample gan raw"
same "gan: same --seed" "$TMP/g0.npy" "$TMP/g0b.npy"
same "gan: --seed 0 = train gan --samples" "$TMP/g0.npy" "$TMP/g_train.npy"
differ "gan: another --seed" "$TMP/g0.npy" "$TMP/g9.npy"
differ "gan: --raw is not the EMA (30 steps, EMA from step 10)" "$TMP/g0.npy" "$TMP/g0raw.npy"
if [ "$(head -c 8 "$TMP/g0.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then ok; else bad "gan scatter is not a PNG"; fi
$S --model "$TMP/f.safetensors" --n 700 --seed 1 --out "$TMP/f1.npy" --grid "$TMP/f1.png" > /dev/null || bad "sample flow"
$S --model "$TMP/f.safetensors" --n 700 --seed 2 --out "$TMP/f2.npy" > /dev/null || bad "sample flow seed 2"
same "flow: --seed 1 = train flow --samples" "$TMP/f1.npy" "$TMP/f_train.npy"
differ "flow: another --seed" "$TMP/f1.npy" "$TMP/f2.npy"
[ -s "$TMP/f1.png" ] && ok || bad "flow scatter missing"

# ---- flow logprob against an independent evaluation, and ∫ q = 1 ----
python3 - "$TMP" << 'EOF' || bad "python reference"
import json, math, struct, sys
tmp = sys.argv[1]
def npy_write(path, rows):
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 2), }" % len(rows)
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        for r in rows: f.write(struct.pack("<2f", *r))
# 40 probe points (some off the ring), and a 240 x 240 midpoint grid on [-6, 6]^2
pts = [(3.0 * math.cos(0.7 * i) * (0.3 + 0.02 * i), 3.0 * math.sin(1.3 * i) * (0.3 + 0.02 * i)) for i in range(40)]
npy_write(tmp + "/probe.npy", pts)
h = 12.0 / 240
npy_write(tmp + "/grid.npy", [(-6 + h * (i + 0.5), -6 + h * (j + 0.5)) for i in range(240) for j in range(240)])
# RealNVP of src/prdiv/prdiv_flow.c from the checkpoint: layer k masks d with (d + k) % 2 == 0, conditioner
# tanh(W1 (x*m) + b1) -> tanh(W2 . + b2) -> W3 . + b3 = (s_raw, t); s = 2 tanh(s_raw); inverse runs k = K-1..0
b = open(tmp + "/f.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
def tensor(name):
    e = hdr[name]; lo, hi = e["data_offsets"]
    v = struct.unpack("<%df" % ((hi - lo) // 4), b[8 + n + lo:8 + n + hi])
    return [list(v[r * e["shape"][1]:(r + 1) * e["shape"][1]]) for r in range(e["shape"][0])] if len(e["shape"]) == 2 else list(v)
K = json.loads(hdr["__metadata__"]["config"])["n_layers"]
L = [[tensor("c%d.%d.%s" % (k, j, w)) for j in (0, 2, 4) for w in ("weight", "bias")] for k in range(K)]
def lin(W, c, x): return [sum(wi * xi for wi, xi in zip(row, x)) + ci for row, ci in zip(W, c)]
def logq(x):
    x = list(x); ld = 0.0
    for k in reversed(range(K)):
        m = [1.0 if (d + k) % 2 == 0 else 0.0 for d in range(2)]
        W1, b1, W2, b2, W3, b3 = L[k]
        hh = [math.tanh(v) for v in lin(W1, b1, [xi * mi for xi, mi in zip(x, m)])]
        hh = [math.tanh(v) for v in lin(W2, b2, hh)]
        st = lin(W3, b3, hh)
        for d in range(2):
            if m[d] == 0.0:
                s = 2.0 * math.tanh(st[d]); x[d] = (x[d] - st[2 + d]) * math.exp(-s); ld -= s
    return -0.5 * (x[0] ** 2 + x[1] ** 2) - math.log(2 * math.pi) + ld
with open(tmp + "/probe_ref.txt", "w") as f:
    for p in pts: f.write("%.9f\n" % logq(p))
EOF
"$GENMIX" --quiet flow logprob --model "$TMP/f.safetensors" --x "$TMP/probe.npy" --out "$TMP/probe_lq.npy" > "$TMP/lp.txt" || bad "flow logprob"
"$GENMIX" --quiet flow logprob --model "$TMP/f.safetensors" --x "$TMP/grid.npy" --out "$TMP/grid_lq.npy" > /dev/null || bad "flow logprob grid"
python3 - "$TMP" << 'EOF' || bad "flow logprob values"
import math, struct, sys
tmp = sys.argv[1]
def npy_f8(path):
    b = open(path, "rb").read(); hl = struct.unpack("<H", b[8:10])[0]
    assert b"'<f8'" in b[10:10 + hl], "log q not float64"
    d = b[10 + hl:]; return struct.unpack("<%dd" % (len(d) // 8), d)
lq = npy_f8(tmp + "/probe_lq.npy")
ref = [float(l) for l in open(tmp + "/probe_ref.txt")]
err = max(abs(a - r) for a, r in zip(lq, ref))
print("flow logprob: max |genmix - python| = %.2e over %d points (log q in [%.2f, %.2f])" % (err, len(ref), min(ref), max(ref)))
assert len(lq) == 40 and err < 1e-4, "log q differs from the reference"
mean = float(open(tmp + "/lp.txt").read().split()[3])
assert abs(mean - sum(lq) / 40) < 1e-6 * max(1, abs(mean)), "printed mean"
g = npy_f8(tmp + "/grid_lq.npy")
mass = sum(math.exp(v) for v in g) * (12.0 / 240) ** 2
print("flow logprob: integral of q over [-6,6]^2 = %.6f" % mass)
assert abs(mass - 1) < 5e-3, "q does not integrate to 1"
EOF

# ---- bad input ----
printf 'not npy' > "$TMP/junk.npy"
expect_exit 1 "logprob of a GAN checkpoint" -- "$GENMIX" flow logprob --model "$TMP/g.safetensors" --x "$TMP/probe.npy"
expect_exit 1 "logprob of 1-D points" -- "$GENMIX" flow logprob --model "$TMP/f.safetensors" --x "$TMP/probe_lq.npy"
expect_exit 1 "logprob of a junk file" -- "$GENMIX" flow logprob --model "$TMP/f.safetensors" --x "$TMP/junk.npy"
expect_exit 2 "logprob without --x" -- "$GENMIX" flow logprob --model "$TMP/f.safetensors"
expect_exit 2 "unknown flow action" -- "$GENMIX" flow density --model "$TMP/f.safetensors"
expect_exit 2 "sample --raw of a flow" -- "$GENMIX" sample --model "$TMP/f.safetensors" --n 5 --raw --out "$TMP/x.npy"
expect_exit 2 "sample --n 0" -- "$GENMIX" sample --model "$TMP/g.safetensors" --n 0 --out "$TMP/x.npy"
expect_exit 2 "sample: AE-only option on a GAN" -- "$GENMIX" sample --model "$TMP/g.safetensors" --n 5 --mcmc-steps 3 --out "$TMP/x.npy"
expect_exit 1 "sample of a missing checkpoint" -- "$GENMIX" sample --model "$TMP/nope.safetensors" --n 5 --out "$TMP/x.npy"
[ ! -e "$TMP/x.npy" ] && ok || bad "a failed sample wrote its output"

echo "cli_prdiv_sample: $pass passed, $fail failed"
[ "$fail" = 0 ]
