#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_eval.sh — end-to-end checks of `genmix eval` on the fixtures of tools/ref_eval.py (tests/golden/):
# values against the NumPy/SciPy/sklearn references, statistics files, JSON, thread invariance, exit codes.
set -u
GENMIX=${1:-build/genmix}
G=tests/golden
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
golden() { awk -v k="$1" '$1 == k {print $2}' $G/eval_ref.txt; }
# value of table row $2 (first number after the label) in file $1
val() { grep -F -- "$2" "$1" | head -1 | sed -e "s/^ *$3 *//" | awk '{print $1}'; }
near() { # near NAME GOT WANT RTOL
  if awk -v a="$2" -v b="$3" -v r="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= r * m + 1e-12) }'; then ok; else bad "$1: got '$2' want '$3' (rtol $4)"; fi
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

expect_exit 0 "help" -- "$GENMIX" eval --help
grep -q "usage: genmix eval" "$TMP/out" && ok || bad "help text"

# main metrics vs the references (fake is float32 on disk)
expect_exit 0 "fd/kid/pr/prdc" -- "$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy \
  --metrics fd,kid,pr,prdc,mmd --kid-subsets 10 --kid-size 100 --mmd-sigma 2 --json "$TMP/out.json"
cp "$TMP/out" "$TMP/main.txt"
near "FD" "$(val "$TMP/main.txt" "  FD " "FD")" "$(golden fd_f32fake)" 1e-7
near "KID" "$(val "$TMP/main.txt" "  KID " "KID")" "$(golden kid_mean)" 1e-5
near "MMD rbf" "$(val "$TMP/main.txt" "MMD^2 (rbf)" "MMD\\^2 (rbf)")" "$(golden mmd_rbf2_unbiased)" 1e-5
near "precision k3" "$(val "$TMP/main.txt" "precision (k=3, <=)" "precision (k=3, <=)")" "$(golden pr3_precision)" 1e-9
near "recall k3" "$(val "$TMP/main.txt" "recall (k=3, <=)" "recall (k=3, <=)")" "$(golden pr3_recall)" 1e-9
near "prdc precision" "$(val "$TMP/main.txt" "prdc precision (k=5)" "prdc precision (k=5)")" "$(golden prdc5_f32fake_precision)" 1e-7
near "density" "$(val "$TMP/main.txt" "  density " "density")" "$(golden prdc5_f32fake_density)" 1e-7
near "coverage" "$(val "$TMP/main.txt" "  coverage " "coverage")" "$(golden prdc5_f32fake_coverage)" 1e-7
for key in '"genmix_version"' '"profile":' '"trace_sqrt"' '"kid"' '"prdc"' '"inputs"' '"warnings"' '"sha256"'; do
  grep -q "$key" "$TMP/out.json" && ok || bad "json lacks $key"
done

# same bits for 1 and 2 threads
expect_exit 0 "threads 1" -- "$GENMIX" --quiet --threads 1 eval --real $G/eval_real.npy --fake $G/eval_fake.npy \
  --metrics fd,kid,pr,prdc,mmd --kid-subsets 10 --kid-size 100 --mmd-sigma 2
grep -v "threads" "$TMP/out" > "$TMP/t1.txt"
grep -v "threads" "$TMP/main.txt" > "$TMP/t2.txt"
cmp -s "$TMP/t1.txt" "$TMP/t2.txt" && ok || bad "1 vs 2 threads differ"

# Fortran-order, big-endian float32 file: same numbers as the C-order little-endian one
expect_exit 0 "fortran big-endian" -- "$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake_fortran_be.npy --metrics fd,prdc
near "FD fortran/be" "$(val "$TMP/out" "  FD " "FD")" "$(golden fd_f32fake)" 1e-7
near "density fortran/be" "$(val "$TMP/out" "  density " "density")" "$(golden prdc5_f32fake_density)" 1e-7

# statistics files: pytorch-fid style mu/sigma npz as --real, and genmix's own --save-stats
expect_exit 0 "stats input" -- "$GENMIX" --quiet eval --real $G/eval_real_stats.npz --fake $G/eval_fake.npy --metrics fd
near "FD from stats" "$(val "$TMP/out" "  FD " "FD")" "$(golden fd_f32fake)" 1e-7
expect_exit 0 "save stats" -- "$GENMIX" --quiet eval --real $G/eval_real.npy --save-stats "$TMP/s.npz"
[ "$(head -c 4 "$TMP/s.npz" | od -An -c | tr -d ' ')" = 'PK003004' ] && ok || bad "stats file is not a zip"
expect_exit 0 "saved stats input" -- "$GENMIX" --quiet eval --real "$TMP/s.npz" --fake $G/eval_fake.npz:feats --metrics fd
near "FD from saved stats (f64 fake)" "$(val "$TMP/out" "  FD " "FD")" "$(golden fd_sqrtm)" 1e-9
expect_exit 1 "stats file with k-NN metrics" -- "$GENMIX" eval --real "$TMP/s.npz" --fake $G/eval_fake.npy --metrics prdc

# Inception Score from logits (no --real), torch-fidelity's shuffle
expect_exit 0 "is" -- "$GENMIX" --quiet eval --fake $G/eval_logits.npy --metrics is
near "IS" "$(val "$TMP/out" "Inception Score" "Inception Score")" "$(golden is_mean)" 1e-7
expect_exit 0 "is shuffle" -- "$GENMIX" --quiet eval --fake $G/eval_logits.npy --metrics is --is-shuffle
near "IS shuffled" "$(val "$TMP/out" "Inception Score" "Inception Score")" "$(golden is_perm_mean)" 1e-7

# vendi / rke / prd run and write their outputs; bootstrap prints intervals
expect_exit 0 "vendi rke prd" -- "$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy \
  --metrics vendi,rke,prd --rke-sigma 1,2 --prd-runs 2 --prd-clusters 5 --prd-out "$TMP/prd.npy"
near "Vendi" "$(val "$TMP/out" "Vendi (q=1, cosine)" "Vendi (q=1, cosine)")" "$(golden vendi_cos_q1)" 1e-6
near "RKE s=1" "$(val "$TMP/out" "RKE mode count (s=1)" "RKE mode count (s=1)")" \
  "$(awk -v f="$(golden rke_frob_s1)" 'BEGIN{printf "%.12g", 1/f}')" 1e-6
[ -s "$TMP/prd.npy" ] && ok || bad "prd curves file"
# PRD values: the curves file (1001 x 2 float64 rows precision, recall; read with od) lies in [0, 1], and the
# printed F8 / F1/8 are max over the curve of (1 + b^2) p r / (b^2 p + r) (b = 8, 1/8)
hl=$(od -An -tu2 -j8 -N2 "$TMP/prd.npy" | tr -d ' ')
od -An -v -tf8 -w16 -j$((10 + hl)) "$TMP/prd.npy" | awk '{ print $1, $2 }' > "$TMP/prd.txt"
[ "$(wc -l < "$TMP/prd.txt")" = 1001 ] && ok || bad "prd curves rows: $(wc -l < "$TMP/prd.txt")"
prd_f() { awk -v b="$1" '{ if ($1 < 0 || $1 > 1 || $2 < 0 || $2 > 1) bad = 1; f = (1 + b * b) * $1 * $2 / (b * b * $1 + $2 + 1e-10); if (f > m) m = f }
  END { if (bad) print "out-of-range"; else printf "%.12g", m }' "$TMP/prd.txt"; }
f8=$(val "$TMP/out" "PRD F8 (recall)" "PRD F8 (recall)"); f18=$(grep -F "PRD F1/8 (precision)" "$TMP/out" | awk '{ print $NF }')
near "PRD F8 from the curves" "$f8" "$(prd_f 8)" 1e-8
near "PRD F1/8 from the curves" "$f18" "$(prd_f 0.125)" 1e-8
awk -v a="$f8" -v b="$f18" 'BEGIN { exit !(a > 0.5 && a < 1 && b > 0.5 && b < 1) }' && ok || bad "PRD F values $f8 $f18 not in (0.5, 1)"
# and the same seed on one thread gives the same figures
"$GENMIX" --quiet --threads 1 eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prd --prd-runs 2 \
  --prd-clusters 5 > "$TMP/prd1.txt" 2>&1 || bad "prd one thread"
[ "$(val "$TMP/prd1.txt" "PRD F8 (recall)" "PRD F8 (recall)")" = "$f8" ] && ok || bad "PRD F8 depends on threads"
# bootstrap: each interval brackets the point estimate (the golden value), has a plausible width
# (a proportion of n: 2 * 1.96 * sqrt(p (1 - p) / n) within 40 %), and the same seed repeats it exactly
expect_exit 0 "bootstrap" -- "$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prdc --bootstrap 200
cp "$TMP/out" "$TMP/boot.txt"
ci_check() { # ci_check LABEL GOLDEN N
  local line lo hi
  line=$(grep -F -- "$1" "$TMP/boot.txt" | head -1)
  lo=$(echo "$line" | sed -n 's/.*\[\([^,]*\), \([^]]*\)\].*/\1/p'); hi=$(echo "$line" | sed -n 's/.*\[\([^,]*\), \([^]]*\)\].*/\2/p')
  awk -v lo="$lo" -v hi="$hi" -v p="$(golden "$2")" -v n="$3" 'BEGIN { w = 2 * 1.96 * sqrt(p * (1 - p) / n);
    exit !(lo != "" && lo < p && p < hi && hi - lo > 0.6 * w && hi - lo < 1.4 * w) }' && ok || bad "bootstrap $1: [$lo, $hi] vs $(golden "$2")"
}
ci_check "prdc precision (k=5)" prdc5_f32fake_precision 300
ci_check "prdc recall (k=5)" prdc5_f32fake_recall 400
ci_check "  coverage " prdc5_f32fake_coverage 400
"$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prdc --bootstrap 200 > "$TMP/boot2.txt" 2>&1
cmp -s "$TMP/boot.txt" "$TMP/boot2.txt" && ok || bad "bootstrap not reproducible"
"$GENMIX" --quiet eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prdc --bootstrap 200 --seed 5 > "$TMP/boot3.txt" 2>&1
cmp -s "$TMP/boot.txt" "$TMP/boot3.txt" && bad "bootstrap ignores --seed" || ok
expect_exit 0 "profile prdc" -- "$GENMIX" --quiet eval --profile prdc --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prdc
near "prdc profile density" "$(val "$TMP/out" "  density " "density")" "$(golden prdc5_f32fake_density)" 1e-7

# bad input: exit 1 with one line; usage errors: exit 2
expect_exit 1 "NaN row" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_nan.npy
grep -q "eval_nan.npy" "$TMP/err" && ok || bad "NaN error names the file"
expect_exit 1 "mismatched D" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_d23.npy
expect_exit 1 "empty file" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_empty.npy
# fp16 emulation (openai profile, or --fp16) against the NumPy float16 fixture of tools/gen_eval_fp16.py:
# counts [84, 129, 97, 140, 475, 142] of 120 fake / 150 real rows
"$GENMIX" --quiet eval --profile openai --real $G/eval_fp16_real.npy --fake $G/eval_fp16_fake.npy --metrics pr \
  --json "$TMP/fp16.json" > "$TMP/fp16.txt" 2>&1 || bad "openai profile run"
near "fp16 precision" "$(val "$TMP/fp16.txt" "precision (k=3, <=)" "precision (k=3, <=)")" 0.7 1e-12
near "fp16 recall" "$(val "$TMP/fp16.txt" "recall (k=3, <=)" "recall (k=3, <=)")" 0.86 1e-12
grep -q '"knn_fp16":[[:space:]]*true' "$TMP/fp16.json" && ok || bad "json lacks knn_fp16 true"
"$GENMIX" --quiet eval --fp16 --real $G/eval_fp16_real.npy --fake $G/eval_fp16_fake.npy --metrics prdc > "$TMP/fp16b.txt" 2>&1 || bad "--fp16 run"
near "fp16 density" "$(val "$TMP/fp16b.txt" "density" "density")" 0.7916666667 1e-9
near "fp16 coverage" "$(val "$TMP/fp16b.txt" "coverage" "coverage")" 0.9466666667 1e-9
"$GENMIX" --quiet eval --real $G/eval_fp16_real.npy --fake $G/eval_fp16_fake.npy --metrics prdc > "$TMP/fp16c.txt" 2>&1 || bad "no-fp16 run"
[ "$(val "$TMP/fp16c.txt" "density" "density")" != "$(val "$TMP/fp16b.txt" "density" "density")" ] && ok || bad "fp16 made no difference"

# per-class Vendi (--labels) against tools/gen_eval_labels.py (NumPy eigvalsh)
lref() { awk -v k="$1" '$1 == k {print $2}' $G/eval_labels_ref.txt; }
"$GENMIX" --quiet eval --fake $G/eval_fake.npy --metrics vendi --labels $G/eval_labels.npy > "$TMP/lab.txt" 2>&1 || bad "--labels run"
near "vendi class 0" "$(val "$TMP/lab.txt" "class 0 (n=120)" "class 0 (n=120)")" "$(lref vendi_class_0)" 1e-8
near "vendi class 5" "$(val "$TMP/lab.txt" "class 5 (n=60)" "class 5 (n=60)")" "$(lref vendi_class_5)" 1e-8
near "vendi class mean" "$(val "$TMP/lab.txt" "Vendi class mean (4)" "Vendi class mean (4)")" "$(lref vendi_per_class_mean)" 1e-8
expect_exit 1 "labels of the wrong length/dtype" -- "$GENMIX" eval --fake $G/eval_fake.npy --metrics vendi --labels $G/eval_fake.npy

expect_exit 1 "k >= n" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics prdc --k 300
expect_exit 1 "missing file" -- "$GENMIX" eval --real $G/nope.npy --fake $G/eval_fake.npy
expect_exit 1 "strict KID subset" -- "$GENMIX" eval --profile torch-fidelity --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics kid
expect_exit 2 "unknown metric" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics fd,xyz
expect_exit 2 "unknown profile" -- "$GENMIX" eval --profile nope --real $G/eval_real.npy --fake $G/eval_fake.npy
expect_exit 2 "rke without sigma" -- "$GENMIX" eval --real $G/eval_real.npy --fake $G/eval_fake.npy --metrics rke
expect_exit 2 "no inputs" -- "$GENMIX" eval

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
