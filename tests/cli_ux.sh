#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_ux.sh — what a new user meets first, across every subcommand: a bad option is one usage line naming
# it (exit 2), messages of failed reads keep the file name, outputs are checked before any work, and the
# man page and `--help` texts list what the program has.
# usage: bash tests/cli_ux.sh path/to/genmix   (run from the repository root)
set -u
G=${1:?usage: cli_ux.sh path/to/genmix}
T=$(mktemp -d /tmp/gm_cli_ux_XXXXXX)
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
# a usage error: exactly "genmix CMD: MESSAGE" and "(see 'genmix CMD --help')"
usage_says() {
  local cmd=$1 msg=$2
  if [ "$(wc -l <"$T/err")" != 2 ] || [ "$(head -n 1 "$T/err")" != "genmix $cmd: $msg" ] ||
     [ "$(tail -n 1 "$T/err")" != "(see 'genmix $cmd --help')" ]; then
    bad "genmix $cmd: wanted the usage error '$msg', got: $(cat "$T/err")"
  else ok; fi
}
out_has() { for s in "$@"; do grep -qF -- "$s" "$T/out" || { bad "stdout lacks '$s': $(head -c 400 "$T/out")"; return; }; done; ok; }
no_file() { for f in "$@"; do [ -e "$f" ] && bad "$f was written"; done; ok; }

# ---- a bad option: one line naming it (getopt's own two-line message is off) ----
CMDS=("data" "inspect" "plot" "eval" "eval merge-stats" "features" "mix" "moe fit" "moe select" "moe predict"
      "moe sample" "moe simulate" "sample" "interpolate" "latent-study" "mcmc-linear" "align" "pr-curve"
      "flow logprob" "train classifier" "train vae" "train daae" "train ddpm" "train ddpm-finetune" "train gan"
      "train flow")
for c in "${CMDS[@]}"; do
  # shellcheck disable=SC2086
  expect 2 "$G" $c --bogus-option
  usage_says "$c" "unknown option '--bogus-option'"
done
for c in "data" "features" "mix" "moe fit" "moe predict" "sample" "interpolate" "align" "flow logprob" \
         "train classifier" "train vae" "train ddpm" "train gan" "train flow" "eval merge-stats"; do
  # shellcheck disable=SC2086
  expect 2 "$G" $c --out
  usage_says "$c" "option '--out' needs a value"
done
expect 2 "$G" mix --arm x.npy --json=yes
usage_says mix "option '--json' takes no value"
# the Fashion-MNIST image flow parses its own options (cli/cmd_train_flow_image.c)
expect 2 "$G" train flow --data fashion-mnist --bogus-option
usage_says "train flow" "unknown option '--bogus-option'"
expect 2 "$G" train flow --data fashion-mnist --out
usage_says "train flow" "option '--out' needs a value"
expect 2 "$G" train gan --data fashion-mnist --plot x.png
usage_says "train gan" "unknown option '--plot' (the conv GAN's options: genmix train gan --data fashion-mnist --help)"

# ---- a non-finite input keeps its message (it named the file; it was lost as "invalid argument") ----
/usr/bin/python3 - "$T" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(0)
np.save(f"{t}/real.npy", r.standard_normal((60, 3)))
x = r.standard_normal((50, 3)); x[7, 1] = np.nan
np.save(f"{t}/nan.npy", x)
x[7, 1] = np.inf
np.save(f"{t}/inf.npy", x)
np.savez(f"{t}/s1.npz", mu=np.zeros(3), m2=np.eye(3), n=np.int64(10))
np.savez(f"{t}/s2.npz", mu=np.array([0.0, np.nan, 0.0]), m2=np.eye(3), n=np.int64(10))
EOF
for est in knn hist classifier; do
  expect 1 "$G" pr-curve --real "$T/real.npy" --fake "$T/nan.npy" --estimator $est --runs 1 --epochs 1
  err_names "nan.npy" "NaN"
done
expect 1 "$G" pr-curve --real "$T/inf.npy" --fake "$T/real.npy"
err_names "inf.npy" "Inf"
expect 1 "$G" eval merge-stats --out "$T/all.npz" "$T/s1.npz" "$T/s2.npz"
err_names "s2.npz" "NaN"
no_file "$T/all.npz"

# ---- outputs are checked before any work: nothing computed or printed, the error names the option ----
mkdir "$T/adir"
echo keep >"$T/afile"
expect 0 "$G" --quiet train flow --out "$T/f.safetensors" --iters 3 --eval-n 100 --log-every 0
expect 1 "$G" flow logprob --model "$T/f.safetensors" --x "$T/real.npy"
err_names "real.npy" "shape (60, 3)" "N x 2"
/usr/bin/python3 -c "import numpy as np; np.save('$T/x2.npy', np.zeros((5, 2)))"
expect 1 "$G" flow logprob --model "$T/f.safetensors" --x "$T/x2.npy" --out "$T/adir"
err_names "--out" "adir"
[ -s "$T/out" ] && bad "flow logprob printed a result before refusing --out: $(cat "$T/out")"
expect 1 "$G" --quiet mcmc-linear --chains 100 --steps 50 --json "$T/adir"
err_names "--json" "adir"
[ -s "$T/out" ] && bad "mcmc-linear ran before refusing --json: $(head -n 2 "$T/out")"
expect 1 "$G" --quiet mcmc-linear --chains 100 --steps 50 --json "$T/missing/x.json"
err_names "--json" "missing"
# (the checks come before the model is read: any regular file stands in for it)
expect 1 "$G" latent-study --model "$T/afile" --out-dir "$T/afile" --n 10
err_names "--out-dir" "afile" "not a folder"
[ "$(cat "$T/afile")" = keep ] && ok || bad "latent-study --out-dir FILE changed the file"
expect 1 "$G" latent-study --model "$T/afile" --clf "$T/none.safetensors" --out-dir "$T/ls" --n 10
err_names "--clf" "none.safetensors"
no_file "$T/ls"
expect 1 "$G" interpolate --model "$T/afile" --out "$T/i.png" --npy "$T/missing/i.npy"
err_names "--npy" "missing"

# `genmix sample --help` (no model) tells that other checkpoint types have their own options
expect 0 "$G" sample --help
out_has "genmix sample --model THAT.safetensors --help"

# an out-of-range test image names its option (a tiny VAE, 100 training images)
expect 0 "$G" --quiet train vae --data fashion-mnist --limit 100 --hidden 8,8 --latent 2 --batch 50 --epochs 1 \
  --out "$T/vae.st"
expect 1 "$G" --quiet interpolate --model "$T/vae.st" --a 3 --b 10000 --out "$T/i.png"
err_names "--b 10000" "out of range" "0..9999"
no_file "$T/i.png"

# ---- "-" as an output: standard output holds exactly that file; reports and tables go to stderr ----
cat >"$T/whole.py" <<'PYEOF'
import io, json, sys
import numpy as np
kind, b = sys.argv[1], sys.stdin.buffer.read()
try:
    if kind == "npy":
        f = io.BytesIO(b); np.load(f); ok = f.tell() == len(b)
    elif kind == "png":
        ok = b[:8] == b"\x89PNG\r\n\x1a\n" and b.endswith(b"IEND\xaeB`\x82")
    elif kind == "json":
        json.loads(b); ok = True
    elif kind == "st":
        n = int.from_bytes(b[:8], "little"); h = json.loads(b[8:8 + n])
        ok = 8 + n + max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__") == len(b)
    elif kind == "csv":
        rows = b.decode().split("\n"); ok = rows[-1] == "" and len({r.count(",") for r in rows[:-1]}) == 1
        [float(v) for r in rows[1:-1] for v in r.split(",")]  # numbers only below the header
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PYEOF
printf 'round,a,b\n1,0.5,0.25\n2,0.4,0.5\n3,0.3,0.75\n' >"$T/r.csv"
printf 'x1,x2,label\n0.1,0.2,0\n-0.3,0.5,1\n0.7,-0.1,0\n-0.6,-0.4,1\n0.2,0.9,1\n-0.8,0.3,0\n' >"$T/m.csv"
"$G" --quiet moe fit --csv "$T/m.csv" --target label --experts 1 --restarts 1 --out "$T/m.safetensors" >/dev/null
dash() { # KIND CMD...: stdout is one whole KIND file; the command's own lines are on stderr
  local kind=$1; shift
  "$@" >"$T/dash.out" 2>"$T/dash.err"
  local rc=$?
  if [ $rc != 0 ]; then bad "'$*' exited $rc: $(head -c 300 "$T/dash.err")"; return; fi
  /usr/bin/python3 "$T/whole.py" "$kind" <"$T/dash.out" && ok ||
    bad "'$*': stdout is not one $kind file ($(wc -c <"$T/dash.out") bytes, ends '$(tail -c 60 "$T/dash.out" | tr -cd '[:print:]')')"
}
dash npy "$G" sample --model "$T/vae.st" --n 3 --out -
dash png "$G" sample --model "$T/vae.st" --n 3 --out "$T/s.npy" --grid -
dash json "$G" sample --model "$T/vae.st" --n 3 --out "$T/s.npy" --json -
grep -q "^sample: 3 samples" "$T/dash.err" && ok || bad "sample's report is not on stderr: $(cat "$T/dash.err")"
dash png "$G" interpolate --model "$T/vae.st" --points 2 --record 0 --out -
dash png "$G" --quiet pr-curve --real "$T/real.npy" --fake "$T/real.npy" --plot -
grep -q "lambda" "$T/dash.err" && ok || bad "pr-curve's table is not on stderr"
dash npy "$G" --quiet train flow --out "$T/f2.safetensors" --iters 3 --eval-n 100 --log-every 0 --samples -
dash st "$G" --quiet train gan --out - --iters 2 --log-every 0
dash json "$G" --quiet mcmc-linear --chains 100 --steps 50 --json -
dash npy "$G" flow logprob --model "$T/f.safetensors" --x "$T/x2.npy" --out -
grep -q "^mean log q" "$T/dash.err" && ok || bad "flow logprob's mean is not on stderr: $(cat "$T/dash.err")"
dash csv "$G" moe sample --model "$T/m.safetensors" --n 4 --out -
dash csv "$G" moe predict --model "$T/m.safetensors" --csv "$T/m.csv" --out -
dash png "$G" plot --csv "$T/r.csv" --x round --y a,b --out=-
dash json "$G" moe fit --csv "$T/m.csv" --target label --experts 1 --restarts 1 --out -
dash json "$G" moe select --csv "$T/m.csv" --target label --kmax 1 --restarts 1 --out -
expect 0 "$G" --quiet moe fit --csv "$T/m.csv" --target label --experts 1 --restarts 1 --out /dev/null
[ -c /dev/null ] && ok || bad "/dev/null is no longer a character device"

# align: a file named inside --reward or by --base-samples that cannot be read names the option
expect 0 "$G" --quiet train ddpm --data fashion-mnist --channels 4 --steps 1 --batch 2 --out "$T/u4.safetensors"
expect 1 "$G" --quiet align --model "$T/u4.safetensors" --reward "classifier:$T/none.safetensors:bag" --alpha 1 \
  --particles 2 --steps 2
err_names "--reward" "none.safetensors" "cannot open"
expect 1 "$G" --quiet align --model toy:gmm2 --reward gmm2 --alpha 1 --method base --base-samples "$T/none.npy"
err_names "--base-samples" "none.npy" "cannot open"

# align --model: a checkpoint of any file name (it had to end in .safetensors: "unknown --model", exit 2)
expect 0 "$G" --quiet train ddpm --data toy:gmm1 --steps 2 --points 500 --hidden 8 --out "$T/toy.ckpt"
expect 0 "$G" --quiet align --model "$T/toy.ckpt" --reward gmm1 --alpha 1 --particles 4 --steps 3
out_has "model $T/toy.ckpt  reward gmm1"
expect 1 "$G" --quiet align --model "$T/none.safetensors" --reward gmm1 --alpha 1
err_names "--model" "none.safetensors" "cannot open"

# ---- values out of range are usage errors (exit 2) naming the option, found before any file is read ----
expect 2 "$G" moe fit --csv "$T/none.csv" --target y --experts -1 --out "$T/m.json"
usage_says "moe fit" "--experts takes an integer >= 1 (got '-1')"
expect 2 "$G" moe select --csv "$T/none.csv" --target y --kmax -2 --out "$T/m.json"
usage_says "moe select" "--kmax takes an integer >= 1 (got '-2')"
expect 2 "$G" plot --csv "$T/none.csv" --x a --y b --out "$T/p.png" --xrange 5,1
usage_says plot "--xrange: LO must be below HI (got 5,1)"
expect 2 "$G" plot --csv "$T/none.csv" --x a --y b --out "$T/p.png" --yrange 2,2
usage_says plot "--yrange: LO must be below HI (got 2,2)"
expect 2 "$G" plot --csv "$T/none.csv" --x a --y b --out "$T/p.png" --yrange=-1, --logy
usage_says plot "--yrange: the ends must be > 0 with --logy"
expect 2 "$G" plot --csv "$T/none.csv" --x a --y b --out "$T/p.png" --xrange 0,inf
usage_says plot "--xrange: the ends must be finite numbers"
no_file "$T/p.png" "$T/m.json"

# --threads without its value, before or after the command
for args in "--threads" "--threads 0" "--threads=" "--threads=x" "eval --threads" "eval --real x --threads abc" \
            "eval --threads=0"; do
  # shellcheck disable=SC2086
  expect 2 "$G" $args
  [ "$(wc -l <"$T/err")" = 1 ] && grep -q "^genmix: --threads takes an integer in 1..1024 (got '" "$T/err" && ok ||
    bad "genmix $args: $(cat "$T/err")"
done

# ---- eval: label files are checked with the other inputs, before the first metric is computed or printed ----
/usr/bin/python3 -c "import numpy as np; np.save('$T/lab49.npy', np.zeros(49, np.int64)); np.save('$T/lab50.npy', np.arange(50) % 2)"
expect 1 "$G" --quiet eval --real "$T/real.npy" --fake "$T/real.npy" --metrics vendi --labels "$T/lab49.npy"
err_names "--labels" "lab49.npy" "one entry per generated row (60)"
[ -s "$T/out" ] && bad "eval computed before refusing --labels: $(cat "$T/out")"
/usr/bin/python3 -c "import numpy as np; r = np.random.default_rng(1); np.save('$T/fake50.npy', r.standard_normal((50, 3)))"
expect 1 "$G" --quiet eval --real "$T/real.npy" --fake "$T/fake50.npy" --metrics fd,vendi --labels "$T/lab50.npy" \
  --real-labels "$T/lab50.npy"
err_names "--real-labels" "lab50.npy" "one entry per real row (60)"
[ -s "$T/out" ] && bad "eval computed before refusing --real-labels: $(cat "$T/out")"
expect 0 "$G" --quiet eval --real "$T/real.npy" --fake "$T/fake50.npy" --metrics fd --real-labels "$T/lab50.npy"
grep -q "warning: --real-labels is used only with --labels" "$T/err" && ok || bad "no warning for --real-labels alone"
expect 2 "$G" eval --real "$T/real.npy" --fake "$T/fake50.npy" --kid-size 1
usage_says eval "--kid-size takes an integer in 2..10000000 (got '1')"
expect 2 "$G" eval --real "$T/real.npy" --fake "$T/fake50.npy" --metrics fd,bogus
grep -q "cmmd,fdinf" "$T/err" && ok || bad "eval --metrics error does not list cmmd, fdinf: $(cat "$T/err")"

expect 0 "$G" --threads=2 --version
expect 2 "$G" eval --threads=1 --real x
grep -q "threads" "$T/err" && bad "eval --threads=1 not taken as the global option: $(cat "$T/err")" || ok

# ---- eval names an integer/bool input's own dtype (it computes on float64, but the file is not float64) ----
/usr/bin/python3 - "$T" <<'PYEOF'
import sys, numpy as np
r = np.random.default_rng(4)
np.save(f"{sys.argv[1]}/ints.npy", r.integers(0, 9, (30, 3)))
np.save(f"{sys.argv[1]}/flags.npy", r.random((30, 3)) > 0.5)
np.save(f"{sys.argv[1]}/bytes.npy", r.integers(0, 9, (30, 3)).astype(np.uint8))
PYEOF
expect 0 "$G" eval --real "$T/ints.npy" --fake "$T/flags.npy" --fake "$T/bytes.npy" --metrics fd
grep -qF "ints.npy  (30 x 3, int64)" "$T/out" && grep -qF "flags.npy  (30 x 3, bool)" "$T/out" &&
  grep -qF "bytes.npy  (30 x 3, uint8)" "$T/out" && ! grep -q float64 "$T/out" && ok ||
  bad "eval: wanted the files' own dtypes int64/bool/uint8: $(cat "$T/out")"
expect 0 "$G" eval --real "$T/ints.npy" --fake "$T/flags.npy" --metrics fd --json -
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [i["dtype"] for i in d["inputs"]] == ["int64", "bool"], d["inputs"]' "$T/out" &&
  ok || bad "eval --json: inputs' dtype not int64, bool"

# ---- the man page lists every command of `genmix --help`, and every model of `genmix train --help` ----
R=$(cd "$(dirname "$0")/.." && pwd)
expect 0 "$G" --help
for c in $(sed -n '/^commands:/,/^$/p' "$T/out" | awk 'NF > 1 {print $1}'); do
  grep -qx "\.B $c" "$R/docs/genmix.1" && ok || bad "docs/genmix.1 does not list the command '$c'"
done
expect 0 "$G" train --help
for m in $(sed -n '/^models:/,$p' "$T/out" | awk 'NF > 1 {print $1}'); do
  grep -A1 -x '\.B train' "$R/docs/genmix.1" | grep -qw -- "$m" && ok || bad "docs/genmix.1 (train) does not list the model '$m'"
done

echo "cli_ux: $pass checks passed, $fails failed"
[ "$fails" = 0 ]
