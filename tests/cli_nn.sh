#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_nn.sh — genmix train classifier / genmix features end to end on a small slice of Fashion-MNIST:
# help and usage errors, training, interrupted + resumed == uninterrupted (bitwise), features shape,
# corrupt/mismatched checkpoints and bad inputs give one-line errors with exit 1.
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail+1)); }
export OMP_WAIT_POLICY=passive

"$G" train --help | grep -q classifier && ok || bad "train --help lists classifier"
"$G" train classifier --help | grep -q -- "--resume" && ok || bad "train classifier --help"
"$G" train nosuch >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown model exits 2"
"$G" train classifier --epochs 0 --out x 2>/dev/null; [ $? -eq 2 ] && ok || bad "--epochs 0 exits 2"
"$G" train classifier 2>/dev/null; [ $? -eq 2 ] && ok || bad "missing --out exits 2"
"$G" features --help | grep -q penultimate && ok || bad "features --help"

A="--limit 256 --batch 64 --epochs 2 --seed 3 --quiet"
"$G" --quiet train classifier --limit 256 --batch 64 --epochs 2 --seed 3 --out "$T/full.safetensors" > "$T/full.txt" || bad "training"
grep -q "test accuracy" "$T/full.txt" && ok || bad "accuracy line"
"$G" --quiet train classifier --limit 256 --batch 64 --epochs 2 --seed 3 --stop-after 1 --out "$T/res.safetensors" >/dev/null || bad "first half"
"$G" --quiet train classifier --limit 256 --resume --out "$T/res.safetensors" >/dev/null || bad "resume"
cmp -s "$T/full.safetensors" "$T/res.safetensors" && ok || bad "resumed checkpoint differs from the uninterrupted one"
"$G" --threads 1 --quiet train classifier --limit 256 --batch 64 --epochs 2 --seed 3 --out "$T/t1.safetensors" >/dev/null
cmp -s "$T/full.safetensors" "$T/t1.safetensors" && ok || bad "--threads 1 changes the result"

# features of a small uint8 image set
/usr/bin/python3 - "$T" <<'PY' || bad "python fixture"
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/img.npy", rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8))
np.save(sys.argv[1] + "/imgf.npy", rng.random((5, 784)).astype(np.float64))
np.save(sys.argv[1] + "/wrong.npy", np.zeros((3, 100), dtype=np.float32))
x = np.zeros((2, 784), dtype=np.float32); x[1, 3] = np.nan
np.save(sys.argv[1] + "/nan.npy", x)
PY
"$G" features --model "$T/full.safetensors" --in "$T/img.npy" --out "$T/f.npy" >/dev/null && ok || bad "features"
/usr/bin/python3 -c "import numpy as np,sys; f=np.load(sys.argv[1]); assert f.shape==(7,128) and f.dtype==np.float32 and (f>=0).all()" "$T/f.npy" && ok || bad "features shape"
"$G" features --model "$T/full.safetensors" --in "$T/imgf.npy" --out "$T/f2.npy" >/dev/null && ok || bad "features f64"
"$G" features --model "$T/full.safetensors" --in "$T/wrong.npy" --out "$T/f3.npy" 2> "$T/e"; [ $? -eq 1 ] && grep -q "784" "$T/e" && ok || bad "wrong image shape"
"$G" features --model "$T/full.safetensors" --in "$T/nan.npy" --out "$T/f3.npy" 2> "$T/e"; [ $? -ne 0 ] && grep -q "NaN" "$T/e" && ok || bad "NaN image"

# corrupt checkpoints: truncated file, mangled JSON, wrong tensor shape
head -c 1000 "$T/full.safetensors" > "$T/trunc.safetensors"
"$G" features --model "$T/trunc.safetensors" --in "$T/img.npy" --out "$T/f4.npy" 2> "$T/e"; [ $? -eq 1 ] && grep -q "genmix: error:" "$T/e" && ok || bad "truncated checkpoint"
[ "$(wc -l < "$T/e")" -eq 1 ] && ok || bad "error is one line"
/usr/bin/python3 - "$T" <<'PY'
import sys, json, struct
d = open(sys.argv[1] + "/full.safetensors", "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
h["__metadata__"]["config"] = "{not json"
hb = json.dumps(h).encode(); hb += b" " * ((8 - len(hb) % 8) % 8)
open(sys.argv[1] + "/badcfg.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + d[8 + n:])
h = json.loads(d[8:8 + n])
h["8.weight"]["shape"] = [3136, 128]  # same byte count as [128, 3136], wrong shape
hb = json.dumps(h).encode(); hb += b" " * ((8 - len(hb) % 8) % 8)
open(sys.argv[1] + "/badshape.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + d[8 + n:])
PY
"$G" features --model "$T/badcfg.safetensors" --in "$T/img.npy" --out "$T/f5.npy" 2> "$T/e"; [ $? -eq 1 ] && grep -q "config" "$T/e" && ok || bad "bad config JSON"
"$G" features --model "$T/badshape.safetensors" --in "$T/img.npy" --out "$T/f6.npy" 2> "$T/e"; [ $? -eq 1 ] &&  grep -q "'8.weight'" "$T/e" && ok || bad "wrong tensor shape names the tensor"
"$G" train classifier --limit 256 --resume --out "$T/nothere.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "resume without checkpoint"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
