#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_prdiv.sh — `genmix pr-curve` end to end: values of the k-NN and classifier estimators against the
# closed form of spec V3 (P = N(0,1), Q = N(1,1)) and V4 (Q = N(0, 0.5^2)), JSON output, the PNG, and bad
# input (lambda <= 0, malformed grid, wrong shapes, missing files) with the documented exit codes.
# Inputs are written here by perl (Debian essential) from a fixed-seed generator.
set -u
GENMIX=${1:-build/genmix}
# results do not depend on the thread count; one thread keeps this test quick on a loaded shared machine
export OMP_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
near() { # near NAME GOT WANT ATOL
  if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'; then ok; else bad "$1: got '$2' want '$3' (atol $4)"; fi
}
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
# npy FILE DTYPE(f4|f8) ROWS COLS MEAN SD SEED: normal samples (Box-Muller on a 64-bit LCG); COLS 0 = 1-D
npy() {
  perl -e '
    my ($file, $dt, $n, $d, $mu, $sd, $seed) = @ARGV;
    use integer; my $s = $seed; no integer;
    sub u { use integer; $s = ($s * 6364136223846793005 + 1442695040888963407); no integer;
            return ((($s >> 11) & 0x1FFFFFFFFFFFFF) + 0.5) / 9007199254740992.0; }
    my $shape = $d > 0 ? "($n, $d)" : "($n,)";
    my $h = "{\x27descr\x27: \x27<$dt\x27, \x27fortran_order\x27: False, \x27shape\x27: $shape, }";
    my $len = length($h) + 1; my $pad = 64 - (10 + $len) % 64; $pad = 0 if $pad == 64;
    $h .= " " x $pad . "\n";
    open(my $f, ">:raw", $file) or die; print $f "\x93NUMPY\x01\x00" . pack("v", length($h)) . $h;
    my $cnt = $n * ($d > 0 ? $d : 1);
    for (my $i = 0; $i < $cnt; $i++) {
      my $z = sqrt(-2 * log(u())) * cos(6.283185307179586 * u());
      print $f pack($dt eq "f4" ? "f<" : "d<", $mu + $sd * $z);
    }
    close $f;' "$@"
}
npy "$TMP/real.npy" f4 6000 1 0 1 11
npy "$TMP/shift.npy" f8 6000 1 1 1 12
npy "$TMP/narrow.npy" f8 6000 0 0 0.5 13
npy "$TMP/two.npy" f8 100 2 0 1 14

expect_exit 0 "help" -- "$GENMIX" pr-curve --help
grep -q "usage: genmix pr-curve" "$TMP/out" && ok || bad "help text"

# k-NN estimator vs V3 (alpha at 0.5, 1, 2) and V4; JSON output
expect_exit 0 "knn json" -- "$GENMIX" --quiet pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" \
  --fake "$TMP/narrow.npy" --label shift --label narrow --lambda-grid 0.5,1,2 --k 10 --json --plot "$TMP/pr.png"
cp "$TMP/out" "$TMP/knn.json"
# alpha arrays in order: model 0 then model 1
alphas=$(tr -d ' \n\t' < "$TMP/knn.json" | grep -o '"alpha":\[[^]]*\]' | sed 's/"alpha":\[//; s/\]//' | tr ',' ' ')
set -- $alphas
near "knn V3 lambda 0.5" "${1:-}" 0.404695 0.03
near "knn V3 lambda 1" "${2:-}" 0.617075 0.03
near "knn V3 lambda 2" "${3:-}" 0.809390 0.03
near "knn V4 lambda 0.5" "${4:-}" 0.386330 0.03
near "knn V4 lambda 1" "${5:-}" 0.677325 0.03
# V4 at lambda 2 sits on the boundary q <= 2p (alpha = 1 exactly): the noisy k-NN ratio can only lower it
near "knn V4 lambda 2" "${6:-}" 1 0.07
grep -q '"label":[[:space:]]*"narrow"' "$TMP/knn.json" && ok || bad "json label"
grep -q '"d_pr"' "$TMP/knn.json" && ok || bad "json d_pr"
[ -s "$TMP/pr.png" ] && [ "$(head -c 4 "$TMP/pr.png" | tail -c 3)" = "PNG" ] && ok || bad "plot written"

# classifier estimator (3 runs), table output: row "1  alpha beta D"
expect_exit 0 "classifier table" -- "$GENMIX" --quiet pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" \
  --estimator classifier --runs 3 --lambda-grid 1,2
a1=$(awk '$1 == "1" {print $2}' "$TMP/out")
d1=$(awk '$1 == "1" {print $4}' "$TMP/out")
near "classifier V3 lambda 1" "$a1" 0.617075 0.03
near "classifier V3 D_1" "$d1" 0.382925 0.03
# log grid and the histogram estimator run and stay within bounds
expect_exit 0 "hist log grid" -- "$GENMIX" --quiet pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" \
  --estimator hist --clusters 10 --lambda-grid log:0.1:10:5
[ "$(awk 'NF == 4 && $1 + 0 > 0 && $2 >= 0 && $2 <= 1 && $3 >= 0 && $3 <= 1' "$TMP/out" | wc -l)" = 5 ] && ok || bad "hist rows"

# bad input: usage (2) and run-time (1)
expect_exit 2 "lambda 0" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --lambda-grid 0,1
expect_exit 2 "lambda negative" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --lambda-grid 1,-2
expect_exit 2 "malformed grid" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --lambda-grid 1,,x
expect_exit 2 "bad log grid" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --lambda-grid log:1:0.1:3
expect_exit 2 "unknown estimator" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --estimator nope
expect_exit 2 "missing fake" -- "$GENMIX" pr-curve --real "$TMP/real.npy"
expect_exit 2 "bad k" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/shift.npy" --k 0
expect_exit 1 "dimension mismatch" -- "$GENMIX" pr-curve --real "$TMP/real.npy" --fake "$TMP/two.npy"
grep -q "two.npy has 2 columns" "$TMP/err" && ok || bad "dimension message names the file"
expect_exit 1 "missing file" -- "$GENMIX" pr-curve --real "$TMP/nope.npy" --fake "$TMP/shift.npy"
expect_exit 1 "k too large" -- "$GENMIX" pr-curve --real "$TMP/two.npy" --fake "$TMP/two.npy" --k 100
printf 'not an npy file' > "$TMP/junk.npy"
expect_exit 1 "junk file" -- "$GENMIX" pr-curve --real "$TMP/junk.npy" --fake "$TMP/shift.npy"

# ---- genmix train gan ----
GA=(--hidden 16 --batch 32 --n-critic 2 --ema-start 2 --log-every 0 --seed 3 --lambda 5)
expect_exit 0 "train gan 6 steps" -- "$GENMIX" --quiet train gan "${GA[@]}" --iters 6 --out "$TMP/a.safetensors" \
  --samples "$TMP/a.npy" --n-samples 100 --plot "$TMP/a.png"
expect_exit 0 "train gan 3 steps" -- "$GENMIX" --quiet train gan "${GA[@]}" --iters 3 --out "$TMP/b.safetensors"
expect_exit 0 "train gan resume to 6" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --iters 6 \
  --out "$TMP/c.safetensors" --samples "$TMP/c.npy" --n-samples 100
cmp -s "$TMP/a.safetensors" "$TMP/c.safetensors" && ok || bad "resumed checkpoint differs from the uninterrupted run"
cmp -s "$TMP/a.npy" "$TMP/c.npy" && ok || bad "resumed samples differ"
[ -s "$TMP/a.png" ] && ok || bad "gan plot"
expect_exit 2 "gan lambda 0" -- "$GENMIX" train gan --lambda 0 --out "$TMP/x.safetensors"
expect_exit 2 "gan lambda negative" -- "$GENMIX" train gan --lambda -3 --out "$TMP/x.safetensors"
expect_exit 2 "gan unknown objective" -- "$GENMIX" train gan --objective wgan --out "$TMP/x.safetensors"
expect_exit 2 "gan unknown data" -- "$GENMIX" train gan --data toy:spiral --out "$TMP/x.safetensors"
expect_exit 2 "gan no out" -- "$GENMIX" train gan --iters 1
expect_exit 1 "gan resume foreign file" -- "$GENMIX" train gan --resume "$TMP/real.npy" --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "a failed run wrote a checkpoint"
# the message names the offending option
says() { grep -q -- "$1" "$TMP/err" && ok || bad "error message does not name '$1' ($(head -c 200 "$TMP/err"))"; }
expect_exit 2 "gan lambda 0 (message)" -- "$GENMIX" train gan --lambda 0 --out "$TMP/x.safetensors"
says "--lambda"
expect_exit 2 "gan unknown objective (message)" -- "$GENMIX" train gan --objective wgan --out "$TMP/x.safetensors"
says "--objective"
# fine-tuning: --resume with --objective/--lambda switches the loss from the checkpoint's step on; the same
# lambda as the checkpoint's is a no-op (bitwise the uninterrupted run), another one changes the result and
# is recorded in the checkpoint
expect_exit 0 "gan resume with the same lambda" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --lambda 5 \
  --objective pr --iters 6 --out "$TMP/c5.safetensors"
cmp -s "$TMP/a.safetensors" "$TMP/c5.safetensors" && ok || bad "resume with the checkpoint's own lambda is not bitwise the same"
expect_exit 0 "gan fine-tune lambda 0.5" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --lambda 0.5 \
  --iters 6 --out "$TMP/c05.safetensors"
cmp -s "$TMP/a.safetensors" "$TMP/c05.safetensors" && bad "fine-tuning with lambda 0.5 left the run unchanged" || ok
head -c 4096 "$TMP/c05.safetensors" | grep -aq 'lambda\\":0.5' && ok || bad "fine-tuned checkpoint does not record lambda 0.5"
expect_exit 0 "gan fine-tune pr-kl" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --objective pr-kl \
  --iters 5 --out "$TMP/ck.safetensors"
head -c 4096 "$TMP/ck.safetensors" | grep -aq 'pr-kl' && ok || bad "fine-tuned checkpoint does not record pr-kl"
# the genmix variant pr-nofloor: recorded in the checkpoint, and a fine-tune with it resumes bitwise
expect_exit 0 "gan fine-tune pr-nofloor to 6" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --objective pr-nofloor \
  --lambda 10 --iters 6 --out "$TMP/nf6.safetensors"
head -c 4096 "$TMP/nf6.safetensors" | grep -aq '"objective\\":\\"pr-nofloor' && ok || bad "fine-tuned checkpoint does not record pr-nofloor"
expect_exit 0 "gan fine-tune pr-nofloor to 5" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --objective pr-nofloor \
  --lambda 10 --iters 5 --out "$TMP/nf5.safetensors"
expect_exit 0 "gan pr-nofloor resumed to 6" -- "$GENMIX" --quiet train gan --resume "$TMP/nf5.safetensors" --iters 6 \
  --out "$TMP/nf56.safetensors"
cmp -s "$TMP/nf6.safetensors" "$TMP/nf56.safetensors" && ok || bad "a pr-nofloor fine-tune does not resume bitwise"
expect_exit 2 "gan pr-nofloor lambda -1" -- "$GENMIX" train gan --objective pr-nofloor --lambda -1 --out "$TMP/x.safetensors"
says "--lambda"
"$GENMIX" train gan --help | grep -q 'pr-nofloor' && ok || bad "train gan --help does not list pr-nofloor"
# a fine-tune that changes n_critic resumes bitwise too (the critic's Adam step count is in the checkpoint)
expect_exit 0 "gan fine-tune n-critic 3 to 5" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --n-critic 3 \
  --lr-d 1e-3 --iters 5 --out "$TMP/n5.safetensors"
expect_exit 0 "gan fine-tune n-critic 3 to 4" -- "$GENMIX" --quiet train gan --resume "$TMP/b.safetensors" --n-critic 3 \
  --lr-d 1e-3 --iters 4 --out "$TMP/n4.safetensors"
expect_exit 0 "gan fine-tune resumed to 5" -- "$GENMIX" --quiet train gan --resume "$TMP/n4.safetensors" --iters 5 \
  --out "$TMP/n45.safetensors"
cmp -s "$TMP/n5.safetensors" "$TMP/n45.safetensors" && ok || bad "a fine-tune with another n_critic does not resume bitwise"
expect_exit 2 "gan resume with lambda 0" -- "$GENMIX" train gan --resume "$TMP/b.safetensors" --lambda 0 --out "$TMP/x.safetensors"
says "--lambda"
expect_exit 2 "gan resume with unknown objective" -- "$GENMIX" train gan --resume "$TMP/b.safetensors" --objective wgan \
  --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "a refused fine-tune wrote a checkpoint"
expect_exit 0 "train gan pr-kl 3 steps" -- "$GENMIX" --quiet train gan "${GA[@]}" --objective pr-kl --pretrain 1 --iters 3 \
  --out "$TMP/k.safetensors"

# ---- genmix train flow ----
FA=(--layers 2 --hidden 8 --batch 32 --pretrain 2 --log-every 0 --seed 2 --eval-n 500)
expect_exit 0 "train flow B" -- "$GENMIX" --quiet train flow "${FA[@]}" --procedure B --lambda 2 --iters 4 \
  --out "$TMP/f.safetensors" --samples "$TMP/f.npy" --n-samples 50 --plot "$TMP/f.png"
[ "$(awk '$1 == "10" && $2 >= 0 && $2 <= 1' "$TMP/out" | wc -l)" = 1 ] && ok || bad "flow alpha table"
[ -s "$TMP/f.png" ] && [ -s "$TMP/f.npy" ] && ok || bad "flow outputs"
expect_exit 0 "train flow A 4 steps" -- "$GENMIX" --quiet train flow "${FA[@]}" --procedure A --n-critic 2 --iters 4 \
  --out "$TMP/fa4.safetensors"
expect_exit 0 "train flow A 2 steps" -- "$GENMIX" --quiet train flow "${FA[@]}" --procedure A --n-critic 2 --iters 2 \
  --out "$TMP/fa2.safetensors"
expect_exit 0 "train flow A resume to 4" -- "$GENMIX" --quiet train flow --resume "$TMP/fa2.safetensors" --iters 4 \
  --eval-n 500 --out "$TMP/fa24.safetensors"
cmp -s "$TMP/fa4.safetensors" "$TMP/fa24.safetensors" && ok || bad "procedure A: resumed checkpoint differs"
expect_exit 2 "flow n-critic 0" -- "$GENMIX" train flow --procedure A --n-critic 0 --out "$TMP/y.safetensors"
says "--n-critic"
expect_exit 2 "flow lambda 0" -- "$GENMIX" train flow --lambda 0 --out "$TMP/y.safetensors"
expect_exit 2 "flow objective" -- "$GENMIX" train flow --objective kl --out "$TMP/y.safetensors"
says "--objective"
expect_exit 2 "flow unknown procedure" -- "$GENMIX" train flow --procedure Z --out "$TMP/y.safetensors"
says "--procedure"
expect_exit 2 "flow lambda negative" -- "$GENMIX" train flow --lambda -1 --out "$TMP/y.safetensors"
says "--lambda"
expect_exit 2 "flow unknown data" -- "$GENMIX" train flow --data toy:spiral --out "$TMP/y.safetensors"
says "--data"
# diverging training (learning rates 1e30: the losses are infinite at once) is a numerical failure: exit 3,
# one line naming the loss, and the file already at --out is kept
echo keep > "$TMP/div.safetensors"
expect_exit 3 "gan diverges" -- "$GENMIX" train gan --iters 30 --lr-g 1e30 --lr-d 1e30 --out "$TMP/div.safetensors"
says "loss is"
expect_exit 3 "flow diverges" -- "$GENMIX" train flow --iters 30 --lr 1e30 --out "$TMP/div.safetensors"
says "loss is"
if [ "$(cat "$TMP/div.safetensors")" = keep ] && [ ! -e "$TMP/div.safetensors.train" ]; then ok; else bad "a diverged run replaced --out"; fi
expect_exit 1 "flow resume gan checkpoint" -- "$GENMIX" train flow --resume "$TMP/a.safetensors" --out "$TMP/y.safetensors"
expect_exit 1 "gan resume flow checkpoint" -- "$GENMIX" train gan --resume "$TMP/f.safetensors" --out "$TMP/y.safetensors"
[ ! -e "$TMP/y.safetensors" ] && ok || bad "a failed flow run wrote a checkpoint"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
