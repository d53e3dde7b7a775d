#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/run.sh BUILD_DIR SECONDS — run every libFuzzer target in BUILD_DIR/fuzz (npy, npz, safetensors, idx,
# csv, checkpoint; FUZZ_TARGETS="csv ..." picks some) for SECONDS each, seeding
# a scratch corpus from tests/golden (plus small generated seeds). Exits non-zero on the first finding
# (crash, leak, sanitizer report, timeout); the reproducer is left in BUILD_DIR/fuzz/findings/.
# Run from the repository root (make fuzz does).
set -u
B=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS}
S=${2:-60}
F="$B/fuzz"
[ -d "$F" ] || { echo "fuzz/run.sh: no $F (configure with CC=clang -DGM_FUZZ=ON)" >&2; exit 2; }
mkdir -p "$F/findings"
status=0
for target in ${FUZZ_TARGETS:-npy npz safetensors idx moe_model csv checkpoint}; do
  exe="$F/fuzz_$target"
  [ -x "$exe" ] || { echo "fuzz/run.sh: missing $exe" >&2; status=1; continue; }
  corpus="$F/corpus_$target"
  mkdir -p "$corpus"
  case $target in
    npy) cp tests/golden/io/*.npy "$corpus"/ 2>/dev/null ;;
    npz) cp tests/golden/io/*.npz tests/golden/eval_zip64*.npz "$corpus"/ 2>/dev/null ;;
    safetensors) cp tests/golden/io/*.safetensors "$corpus"/ 2>/dev/null
                 printf '\x08\x00\x00\x00\x00\x00\x00\x00{}      ' >"$corpus/empty.safetensors" ;;
    idx)
      printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03\x01\x02\x03\x04\x05\x06' >"$corpus/u8.idx"
      printf '\x00\x00\x0d\x01\x00\x00\x00\x01\x3f\x80\x00\x00' >"$corpus/f32.idx"
      gzip -c "$corpus/u8.idx" >"$corpus/u8.idx.gz" ;;
    moe_model) # a JSON model and the same model as .safetensors (F64 gate 2x1, experts 1x2x2, class_values 2)
      printf '{"format":"genmix-moe","n_experts":1,"n_classes":2,"dim":1,"gate_transform":"identity","features":["x"],"target":"y","class_values":[0,1],"gate":[[0],[0]],"experts":[[[0.5,0],[2,0]]]}' >"$corpus/m.json"
      python3 -c '
import json, struct, sys
t = {"gate": [2, 1], "experts": [1, 2, 2], "class_values": [2]}
vals = {"gate": [0.0, 0.0], "experts": [0.5, 0.0, 2.0, 0.0], "class_values": [0.0, 1.0]}
h, off, data = {"__metadata__": {"format": "genmix-moe", "gate_transform": "identity", "target": "y", "features": "[\"x\"]"}}, 0, b""
for k in ["class_values", "experts", "gate"]:
    b = struct.pack("<%dd" % len(vals[k]), *vals[k]); h[k] = {"dtype": "F64", "shape": t[k], "data_offsets": [off, off + len(b)]}
    off += len(b); data += b
hj = json.dumps(h).encode(); sys.stdout.buffer.write(struct.pack("<Q", len(hj)) + hj + data)' >"$corpus/m.safetensors" ;;
    csv) cp docs/plot_rounds.csv examples/*.csv "$corpus"/ 2>/dev/null
         printf 'a,"b ""q""",c\r\n1,2e3,-inf\r\n\r\nnan, 4 ,5\n' >"$corpus/quoted.csv"
         printf '\xef\xbb\xbfx,y\n0.5,1\n' >"$corpus/bom.csv" ;;
    checkpoint) # small autoencoder checkpoints (the classifier's fixed CNN is too large for -max_len)
      for m in vae dvae; do
        [ -s "$corpus/$m.st" ] || "$B/genmix" --quiet train $m --latent 2 --hidden 4,4 --limit 16 --batch 16 \
          --epochs 1 --out "$corpus/$m.st" >/dev/null || { echo "fuzz/run.sh: cannot write the $m seed" >&2; status=1; }
      done ;;
  esac
  echo "fuzz_$target: ${S}s, corpus $(ls "$corpus" | wc -l) files" >&2
  # -rss_limit_mb bounds decompression bombs; -max_len covers the seeds; leaks are findings.
  if ! "$exe" "$corpus" -max_total_time="$S" -max_len=$([ $target = checkpoint ] && echo 262144 || echo 65536) -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$F/findings/${target}_" -print_final_stats=1 >"$F/fuzz_$target.log" 2>&1; then
    echo "fuzz_$target: FINDING (see $F/fuzz_$target.log and $F/findings/)" >&2
    tail -30 "$F/fuzz_$target.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$F/fuzz_$target.log" | sed "s/^/fuzz_$target: /" >&2
    grep -E "cov: [0-9]+" "$F/fuzz_$target.log" | tail -1 | sed "s/^/fuzz_$target: /" >&2
  fi
done
exit $status
