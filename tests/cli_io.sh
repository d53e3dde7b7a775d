#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_io.sh — `genmix data` and `genmix inspect`: help, exit codes, one-line errors naming the file,
# and a round trip through a tiny hand-made Fashion-MNIST-style IDX set (raw + gzip).
# usage: bash tests/cli_io.sh path/to/genmix   (run from the repository root)
set -u
G=${1:?usage: cli_io.sh path/to/genmix}
T=$(mktemp -d /tmp/gm_cli_io_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE CMD... : exit status; stdout/stderr in $T/out $T/err
expect() {
  local want=$1; shift
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "'$*' exited $got, wanted $want: $(head -c 300 "$T/err")"; fi
}
# the error is exactly one line "genmix: error: ..." containing each argument
err_names() {
  local n; n=$(wc -l <"$T/err")
  if [ "$n" != 1 ] || ! grep -q '^genmix: error: ' "$T/err"; then bad "stderr not one error line: $(cat "$T/err")"; return; fi
  for s in "$@"; do grep -qF -- "$s" "$T/err" || { bad "error '$(cat "$T/err")' lacks '$s'"; return; }; done
  ok
}
out_has() { for s in "$@"; do grep -qF -- "$s" "$T/out" || { bad "stdout lacks '$s': $(head -c 400 "$T/out")"; return; }; done; ok; }

# ---- help and usage errors ----
expect 0 "$G" data --help;    out_has "usage: genmix data fashion-mnist" "--out DIR"
expect 0 "$G" inspect --help; out_has "usage: genmix inspect FILE" "--json"
expect 0 "$G" help inspect;   out_has "usage: genmix inspect"
expect 2 "$G" inspect
expect 2 "$G" inspect a b
expect 2 "$G" inspect --bogus x
expect 2 "$G" data fashion-mnist
expect 2 "$G" data cifar --out "$T/x"
expect 2 "$G" data --out "$T/x"

# ---- inspect on NumPy / safetensors fixtures ----
D=tests/golden/io
expect 0 "$G" inspect $D/f4_3x4.npy
out_has "npy, 1 array" "F32" "(3, 4)" "min -1.5" "max 1.25"
expect 0 "$G" inspect $D/deflated.npz
out_has "npz, 2 members" "feats" "(300, 10)" "labels" "U8" "max 250"
expect 0 "$G" inspect $D/model.safetensors
out_has "safetensors, 10 tensors" "enc.fc1.weight" "(3, 4)" "meta format = genmix" 'meta config = {"a": 1}\n\ttab'
expect 0 "$G" inspect --json $D/stored.npz
out_has '"format":"npz"' '"name":"sigma"' '"shape":[8,8]' '"name":"n"' '"min":1000'
expect 0 "$G" inspect --json $D/i4_0x3.npy
out_has '"count":0' '"min":null'

# ---- bad inputs: exit 1, one line naming the file and the problem ----
expect 1 "$G" inspect "$T/missing.npy";  err_names "$T/missing.npy" "cannot open"
printf 'hello world\n' >"$T/text.bin"
expect 1 "$G" inspect "$T/text.bin";     err_names "$T/text.bin" "unrecognised format"
head -c 100 $D/f4_3x4.npy >"$T/trunc.npy"
expect 1 "$G" inspect "$T/trunc.npy";    err_names "$T/trunc.npy" "runs past the end"
head -c 150 $D/f4_3x4.npy >"$T/short.npy"
expect 1 "$G" inspect "$T/short.npy";    err_names "$T/short.npy" "truncated"
sed 's/<f4/<c8/' $D/f4_3x4.npy >"$T/dtype.npy"
expect 1 "$G" inspect "$T/dtype.npy";    err_names "$T/dtype.npy" "unsupported dtype '<c8'"
head -c 500 $D/stored.npz >"$T/cut.npz"
expect 1 "$G" inspect "$T/cut.npz";      err_names "$T/cut.npz" "zip"
head -c 300 $D/model.safetensors >"$T/cut.safetensors"
expect 1 "$G" inspect "$T/cut.safetensors"; err_names "$T/cut.safetensors" "runs past the end"
printf '\x02\x00\x00\x00\x00\x00\x00\x00{}\x00\x00' >"$T/tail.safetensors"
expect 1 "$G" inspect "$T/tail.safetensors"; err_names "$T/tail.safetensors" "cover 0 data bytes"
expect 1 "$G" data fashion-mnist --source "$T/nowhere" --out "$T/o"; err_names "$T/nowhere/train-images-idx3-ubyte"

# ---- round trip: a 3-image dataset (train raw IDX, test gzip IDX) -> .npy -> inspect ----
S="$T/src"; mkdir -p "$S"
{ printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 2351 /dev/zero; printf '\xff'; } >"$S/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x09' >"$S/train-labels-idx1-ubyte"
{ printf '\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 783 /dev/zero | tr '\0' '\063'; printf '\x00'; } | gzip -c >"$S/t10k-images-idx3-ubyte.gz"
printf '\x00\x00\x08\x01\x00\x00\x00\x01\x07' | gzip -c >"$S/t10k-labels-idx1-ubyte.gz"
expect 0 "$G" --quiet data fashion-mnist --source "$S" --out "$T/exp"
out_has "$T/exp/train_images.npy  float32 (3, 784)" "$T/exp/test_labels.npy  uint8 (1,)"
[ -s "$T/err" ] && bad "--quiet still printed: $(cat "$T/err")" || ok
expect 0 "$G" inspect --json "$T/exp/train_images.npy"
out_has '"shape":[3,784]' '"min":0' '"max":1' '"count":2352'
expect 0 "$G" inspect "$T/exp/train_images_nchw.npy"; out_has "(3, 1, 28, 28)"
expect 0 "$G" inspect --json "$T/exp/train_labels.npy"; out_has '"dtype":"U8"' '"max":9' '"mean":3.3333333333333335'
expect 0 "$G" inspect --json "$T/exp/test_images.npy"; out_has '"shape":[1,784]' '"max":0.20000000298023224'
# a label outside 0..9 is refused, naming the file
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x0a' >"$S/train-labels-idx1-ubyte"
expect 1 "$G" data fashion-mnist --source "$S" --out "$T/out2"; err_names "train-labels-idx1-ubyte" "outside 0..9"
# the IDX source files themselves can be inspected
expect 0 "$G" inspect "$S/t10k-images-idx3-ubyte.gz"; out_has "idx, 1 array" "U8" "(1, 28, 28)" "max 51"

echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
