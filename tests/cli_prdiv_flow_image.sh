#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_prdiv_flow_image.sh — `genmix train flow --data fashion-mnist` (the multi-scale image RealNVP), `genmix sample`
# and `genmix flow logprob` of its checkpoints on a tiny model (1 scale, 1 coupling per group, width 4, batch 8,
# 64 training images): 6 steps equal 3 + 3 steps through --resume byte for byte; the test bits/dim of --json equals
# flow logprob on the same test images (float and uint8 input); sample --seed 0 equals train --samples, another
# stream differs, samples lie in [0, 1]; the grid is a PNG; bad input with the documented exit codes (unknown
# objective or procedure, lambda 0, too many scales: 2; a toy-flow checkpoint given to --resume, images of the wrong shape or
# outside [0, 1], a missing data folder: 1 with a one-line error); procedure B (--objective pr) resumes byte for byte and
# is recorded in the checkpoint and the JSON. Needs Fashion-MNIST (dataset-fashion-mnist) and
# python3-numpy.
set -u
GENMIX=${1:-build/genmix}
export OMP_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
expect_exit() { # expect_exit CODE DESCRIPTION command...
  local want=$1 what=$2
  shift 2
  "$@" > "$TMP/out" 2> "$TMP/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, wanted $want ($(head -c 300 "$TMP/err"))"; fi
  if [ "$want" = 1 ]; then
    if [ "$(grep -c 'genmix: error:' "$TMP/err")" = 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ]; then ok; else bad "$what: no one-line error ($(cat "$TMP/err"))"; fi
  fi
}
same() { if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi; }
differ() { if cmp -s "$2" "$3"; then bad "$1: $2 and $3 are identical"; else ok; fi; }

TR="$GENMIX --quiet train flow --data fashion-mnist --objective mle --limit 64 --scales 1 --couplings 1 --hidden 4 --res-blocks 1 --batch 8 --seed 3"
$TR --iters 6 --test-n 20 --out "$TMP/a.safetensors" --samples "$TMP/a.npy" --n-samples 30 --grid "$TMP/a.png" --json "$TMP/a.json" > "$TMP/a.txt" || bad "train 6"
$TR --iters 3 --test-n 0 --out "$TMP/b.safetensors" > /dev/null || bad "train 3"
$TR --iters 6 --test-n 0 --resume "$TMP/b.safetensors" --out "$TMP/b.safetensors" > /dev/null || bad "resume to 6"
same "6 steps vs 3 + 3 (--resume)" "$TMP/a.safetensors" "$TMP/b.safetensors"
head -c 8 "$TMP/a.png" | od -An -c | grep -q "P   N   G" && ok || bad "grid is not a PNG"
"$GENMIX" inspect "$TMP/a.safetensors" | grep -q 'model = flow-image' && ok || bad "checkpoint model type: $("$GENMIX" inspect "$TMP/a.safetensors" | grep model)"

# procedure B (weighted MLE with a chi2 critic): recorded in the checkpoint, resumes byte for byte
P="$TR --objective pr --procedure B --lambda 5 --pretrain 2 --n-critic 2 --critic-width 3 --test-n 0"
$P --iters 5 --out "$TMP/p5.safetensors" --json "$TMP/p5.json" > /dev/null || bad "train pr 5"
$P --iters 3 --out "$TMP/p3.safetensors" > /dev/null || bad "train pr 3"
$TR --iters 5 --test-n 0 --resume "$TMP/p3.safetensors" --out "$TMP/p35.safetensors" > /dev/null || bad "resume pr"
same "procedure B: 5 steps vs 3 + 2 (--resume)" "$TMP/p5.safetensors" "$TMP/p35.safetensors"
"$GENMIX" inspect "$TMP/p5.safetensors" | grep -q '"objective":"pr","procedure":"B","lambda":5,"pretrain":2,"n_critic":2' && ok || bad "pr config: $("$GENMIX" inspect "$TMP/p5.safetensors" | grep config)"
grep -q '"objective": "pr", "lambda": 5,' "$TMP/p5.json" && ok || bad "pr json: $(cat "$TMP/p5.json")"
differ "procedure B moves the flow away from MLE" "$TMP/a.safetensors" "$TMP/p5.safetensors"
"$GENMIX" train flow --data fashion-mnist --objective pr --lambda 0.2 --limit 16 --scales 1 --couplings 1 --hidden 2 --batch 4 \
  --iters 1 --test-n 0 --out "$TMP/w.safetensors" > /dev/null 2> "$TMP/w.err" || bad "pr lambda 0.2"
grep -q "warning: lambda 0.2 <= 1/3.5" "$TMP/w.err" && grep -q "weight-0 rows 100%" "$TMP/w.err" && ok || bad "lambda 0.2: no warning / not all weights 0 ($(cat "$TMP/w.err"))"

# the test bits/dim of the run = flow logprob of the same 20 test images (dequantisation stream 0)
/usr/bin/python3 - "$TMP" << 'EOF' || bad "test images"
import gzip, sys
import numpy as np
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
x = np.frombuffer(raw, dtype=np.uint8, offset=16)[: 20 * 784].reshape(20, 28, 28)
np.save(sys.argv[1] + "/t_u8.npy", x)
np.save(sys.argv[1] + "/t_f32.npy", (x.astype(np.float32) / 255).reshape(20, 784))
np.save(sys.argv[1] + "/t_bad.npy", np.full((2, 784), 2.0, dtype=np.float32))
np.save(sys.argv[1] + "/t_shape.npy", np.zeros((3, 100), dtype=np.float32))
s = np.load(sys.argv[1] + "/a.npy")
assert s.shape == (30, 784) and s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1, (s.shape, s.min(), s.max())
EOF
tb=$(/usr/bin/python3 -c "import json,sys; print('%.4f' % json.load(open(sys.argv[1]))['test_bpd'])" "$TMP/a.json")
grep -q "test bits/dim $tb (20 test images" "$TMP/a.txt" && ok || bad "json test_bpd $tb vs $(cat "$TMP/a.txt")"
L="$GENMIX --quiet flow logprob --model $TMP/a.safetensors"
$L --x "$TMP/t_f32.npy" --out "$TMP/lp.npy" > "$TMP/lp.txt" || bad "logprob float"
grep -q "$tb bits/dim\|, ${tb}[0-9]* bits/dim" "$TMP/lp.txt" && ok || bad "logprob bits/dim $(cat "$TMP/lp.txt") vs test_bpd $tb"
$L --x "$TMP/t_u8.npy" --out "$TMP/lp8.npy" > /dev/null || bad "logprob uint8"
same "uint8 pixels = float images" "$TMP/lp.npy" "$TMP/lp8.npy"
$L --x "$TMP/t_f32.npy" --stream 1 --out "$TMP/lp1.npy" > /dev/null || bad "logprob stream 1"
differ "another dequantisation stream" "$TMP/lp.npy" "$TMP/lp1.npy"

# sampling
S="$GENMIX --quiet sample --model $TMP/a.safetensors"
$S --n 30 --seed 0 --out "$TMP/s0.npy" > /dev/null || bad "sample"
same "sample --seed 0 = train --samples" "$TMP/a.npy" "$TMP/s0.npy"
$S --n 30 --seed 1 --out "$TMP/s1.npy" --grid "$TMP/s1.png" > /dev/null || bad "sample seed 1"
differ "another stream" "$TMP/s0.npy" "$TMP/s1.npy"
$S --n 30 --seed 0 --temperature 0.5 --out "$TMP/st.npy" > /dev/null || bad "sample temperature"
differ "temperature 0.5" "$TMP/s0.npy" "$TMP/st.npy"

# bad input
expect_exit 2 "procedure C on images" $TR --objective pr --procedure C --iters 1 --out "$TMP/x.safetensors"
expect_exit 2 "lambda 0" $TR --objective pr --lambda 0 --iters 1 --out "$TMP/x.safetensors"
expect_exit 2 "unknown objective" $TR --objective kl --iters 1 --out "$TMP/x.safetensors"
expect_exit 2 "too many scales" $TR --scales 3 --iters 1 --out "$TMP/x.safetensors"
expect_exit 2 "sample --raw" $S --n 3 --raw --out "$TMP/x.npy"
expect_exit 2 "negative temperature" $S --n 3 --temperature -1 --out "$TMP/x.npy"
# an output that is the input checkpoint is refused before any work (exit 2) and leaves it as it was
cp "$TMP/a.safetensors" "$TMP/a.orig"
expect_exit 2 "sample --out = --model" $S --n 3 --out "$TMP/a.safetensors"
expect_exit 2 "sample --grid = --model" $S --n 3 --out "$TMP/x.npy" --grid "$TMP/a.safetensors"
expect_exit 2 "train --samples = --resume" $TR --iters 7 --resume "$TMP/a.safetensors" --out "$TMP/x.safetensors" --samples "$TMP/a.safetensors"
expect_exit 2 "train --json = --resume" $TR --iters 7 --resume "$TMP/a.safetensors" --out "$TMP/x.safetensors" --json "$TMP/a.safetensors"
same "the refused commands left the checkpoint" "$TMP/a.safetensors" "$TMP/a.orig"
"$GENMIX" --quiet train flow --iters 2 --batch 8 --hidden 4 --layers 2 --eval-n 0 --out "$TMP/toy.safetensors" > /dev/null || bad "toy flow"
expect_exit 1 "toy checkpoint to an image resume" $TR --data fashion-mnist --iters 7 --resume "$TMP/toy.safetensors" --out "$TMP/x.safetensors"
grep -q "not a genmix image-flow checkpoint" "$TMP/err" && ok || bad "foreign checkpoint message: $(cat "$TMP/err")"
expect_exit 1 "images of the wrong shape" $L --x "$TMP/t_shape.npy"
grep -q "t_shape.npy" "$TMP/err" && ok || bad "shape message names the file: $(cat "$TMP/err")"
expect_exit 1 "pixels outside [0, 1]" $L --x "$TMP/t_bad.npy"
expect_exit 1 "images to a toy flow" "$GENMIX" flow logprob --model "$TMP/toy.safetensors" --x "$TMP/t_f32.npy"
expect_exit 1 "missing data folder" $TR --iters 1 --data-dir "$TMP/nowhere" --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "a failed run left a checkpoint"

echo "cli_prdiv_flow_image: $pass checks passed, $fail failed"
[ "$fail" = 0 ]
