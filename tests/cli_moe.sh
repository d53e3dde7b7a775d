#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_moe.sh — genmix moe fit/predict round trip and bad-input errors (exit codes and one-line messages).
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail+1)); }
expect() { # expect CODE PATTERN cmd...
  local code=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" != "$code" ]; then bad "$* -> exit $rc (want $code): $(cat "$T/err")"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/err" "$T/out"; then bad "$* -> output lacks '$pat': $(cat "$T/err")"; return; fi
  ok
}
# 600 rows: x1, x2 from an LCG, label from a two-regime rule (x1 < 0: by x2, else by x1), with noise
awk 'BEGIN { s = 12345; print "x1,x2,label";
  for (t = 0; t < 600; t++) {
    s = (1664525 * s + 1013904223) % 4294967296; a = 2 * s / 4294967296 - 1;
    s = (1664525 * s + 1013904223) % 4294967296; b = 2 * s / 4294967296 - 1;
    s = (1664525 * s + 1013904223) % 4294967296; u = s / 4294967296;
    if (a < 0) y = (b < -0.3) ? 0 : ((b < 0.3) ? 1 : 2); else y = (a < 0.5) ? 2 : 0;
    if (u < 0.1) y = int(u * 30) % 3;
    printf "%.6f,%.6f,%d\n", a, b, y } }' > "$T/d.csv"

expect 0 "usage: genmix moe" "$G" moe --help
expect 0 "--experts K" "$G" moe fit --help
expect 2 "" "$G" moe
expect 2 "unknown subcommand" "$G" moe frobnicate
expect 2 "required" "$G" moe fit --csv "$T/d.csv"
expect 0 "loglik" "$G" --quiet moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 3 --seed 5 --out "$T/m.json"
grep -q '"format":[[:space:]]*"genmix-moe"' "$T/m.json" && ok || bad "model json lacks format"
# same seed -> identical model file
"$G" --quiet moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 3 --seed 5 --out "$T/m2.json" >/dev/null
cmp -s "$T/m.json" "$T/m2.json" && ok || bad "refit with the same seed differs"
# --threads does not change the result
"$G" --quiet --threads 1 moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 3 --seed 5 --out "$T/m3.json" >/dev/null
cmp -s "$T/m.json" "$T/m3.json" && ok || bad "--threads 1 changes the model"
expect 0 "wrote" "$G" moe predict --model "$T/m.json" --csv "$T/d.csv" --out "$T/p.csv"
head -1 "$T/p.csv" | grep -q '^p_0,p_1,p_2,pred$' && ok || bad "predict header: $(head -1 "$T/p.csv")"
[ "$(wc -l < "$T/p.csv")" = 601 ] && ok || bad "predict rows: $(wc -l < "$T/p.csv")"
awk -F, 'NR > 1 { s = $1 + $2 + $3; if (s < 1 - 1e-12 || s > 1 + 1e-12) bad = 1 } END { exit bad }' "$T/p.csv" && ok || bad "probabilities do not sum to 1"
grep -q "accuracy" "$T/err" && ok || bad "no accuracy line"
acc=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' "$T/err")
awk -v a="$acc" 'BEGIN { exit !(a > 0.75) }' && ok || bad "accuracy $acc <= 0.75 on a learnable rule"
# modified gating runs and writes its transform
expect 0 "loglik" "$G" --quiet moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 2 --gating modified --out "$T/mm.json"
grep -q '"gate_transform":[[:space:]]*"sigmoid"' "$T/mm.json" && ok || bad "modified gating not recorded"

# .safetensors model: same fit, predictions equal to the JSON model's (JSON keeps 17 digits: within 1e-12)
expect 0 "wrote" "$G" --quiet moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 3 --seed 5 --out "$T/m.safetensors"
head -c 8 "$T/m.safetensors" | od -An -tu8 | awk '{ exit !($1 > 0 && $1 < 10000) }' && ok || bad "safetensors header length"
expect 0 "accuracy" "$G" moe predict --model "$T/m.safetensors" --csv "$T/d.csv" --out "$T/ps.csv"
paste -d, "$T/p.csv" "$T/ps.csv" | awk -F, 'NR > 1 { for (i = 1; i <= 3; i++) { d = $i - $(i + 4); if (d < 0) d = -d; if (d > 1e-12) bad = 1 }
  if ($4 != $8) bad = 1 } END { exit bad }' && ok || bad "safetensors and JSON models predict differently"
# the model format is told by content, not by the file name
cp "$T/m.safetensors" "$T/st_named.json"; cp "$T/m.json" "$T/json_named.safetensors"
expect 0 "wrote" "$G" moe predict --model "$T/st_named.json" --csv "$T/d.csv" --out "$T/px1.csv"
cmp -s "$T/ps.csv" "$T/px1.csv" && ok || bad "a .safetensors model named .json predicts differently"
expect 0 "wrote" "$G" moe predict --model "$T/json_named.safetensors" --csv "$T/d.csv" --out "$T/px2.csv"
cmp -s "$T/p.csv" "$T/px2.csv" && ok || bad "a JSON model named .safetensors predicts differently"
head -c 100 "$T/m.safetensors" > "$T/trunc.safetensors"
expect 1 "trunc.safetensors" "$G" moe predict --model "$T/trunc.safetensors" --csv "$T/d.csv"
expect 2 "--out must end in .json or .safetensors" "$G" moe fit --csv "$T/d.csv" --target label --experts 2 --out "$T/m.txt"
# sample: columns, rows, reproducible, classes from the model, x within [-xr, xr]
expect 0 "wrote" "$G" moe sample --model "$T/m.safetensors" --n 2000 --xr 0.5 --seed 9 --expert --out "$T/s.csv"
head -1 "$T/s.csv" | grep -q '^x1,x2,label,expert$' && ok || bad "sample header: $(head -1 "$T/s.csv")"
[ "$(wc -l < "$T/s.csv")" = 2001 ] && ok || bad "sample rows"
awk -F, 'NR > 1 { if ($1 < -0.5 || $1 >= 0.5 || $2 < -0.5 || $2 >= 0.5 || ($3 != 0 && $3 != 1 && $3 != 2) || ($4 != 0 && $4 != 1)) bad = 1
  c[$3]++ } END { exit bad || c[0] == 0 || c[1] == 0 || c[2] == 0 }' "$T/s.csv" && ok || bad "sample values out of range"
"$G" moe sample --model "$T/m.json" --n 2000 --xr 0.5 --seed 9 --expert --out "$T/s2.csv" >/dev/null
cmp -s "$T/s.csv" "$T/s2.csv" && ok || bad "same seed, JSON vs safetensors model: different samples"
expect 0 "wrote" "$G" moe sample --model "$T/m.json" --csv "$T/d.csv" --seed 1 --out "$T/s3.csv"
[ "$(wc -l < "$T/s3.csv")" = 601 ] && ok || bad "sample --csv rows"
# a fit on a large sample from the model predicts like the model: the model's accuracy on its own draws
# (printed, and recounted from the predictions) and the refitted model's accuracy on the same draws agree
# within 0.03 and are well above chance (1/3)
expect 0 "accuracy" "$G" moe predict --model "$T/m.json" --csv "$T/s.csv" --out "$T/ps2.csv"
acc_m=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' "$T/err")
acc_count=$(paste -d, "$T/s.csv" "$T/ps2.csv" | awk -F, 'NR > 1 { n++; hit += ($3 == $8) } END { printf "%.6f", hit / n }')
awk -v a="$acc_m" -v b="$acc_count" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-3 && d > -1e-3) }' && ok || bad "printed accuracy $acc_m != counted $acc_count"
cut -d, -f1-3 "$T/s.csv" > "$T/s_x.csv" # without the expert column (not a feature)
"$G" --quiet moe fit --csv "$T/s_x.csv" --target label --experts 2 --restarts 3 --seed 2 --out "$T/refit.json" >/dev/null 2>&1 || bad "refit on the sample"
expect 0 "accuracy" "$G" moe predict --model "$T/refit.json" --csv "$T/s_x.csv" --out "$T/ps3.csv"
acc_r=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' "$T/err")
awk -v a="$acc_m" -v b="$acc_r" 'BEGIN { d = a - b; exit !(b != "" && a > 0.5 && d < 0.03 && d > -0.03) }' && ok || bad "refit accuracy $acc_r vs model $acc_m"
expect 2 "--n is required" "$G" moe sample --model "$T/m.json" --out "$T/x.csv"
# select: k = 1..3 table, BIC choice written as a loadable model
expect 0 "chooses k = 2" "$G" --quiet moe select --csv "$T/d.csv" --target label --kmax 3 --restarts 2 --seed 1 --out "$T/best.safetensors"
expect 0 "wrote" "$G" moe predict --model "$T/best.safetensors" --csv "$T/d.csv" --out "$T/pb.csv"
expect 2 "--kmax takes an integer >= 1" "$G" moe select --csv "$T/d.csv" --target label --kmax 0 --out "$T/b.json"
expect 2 "use --kmax" "$G" moe select --csv "$T/d.csv" --target label --experts 2 --out "$T/b.json"

# simulate: tiny grid, CSV + summary + both plots
expect 0 "wrote" "$G" --quiet moe simulate --case over --reps 2 --ngrid 2 --nmin 500 --nmax 1000 --seed 3 --out "$T/sim"
for f in moe_sim_over.csv moe_sim_summary.json moe_sim.png moe_sim_params.png; do
  [ -s "$T/sim/$f" ] && ok || bad "simulate did not write $f"
done
[ "$(wc -l < "$T/sim/moe_sim_over.csv")" = 5 ] && ok || bad "simulate csv rows"
head -c 8 "$T/sim/moe_sim.png" | od -An -tx1 | grep -q "89 50 4e 47" && ok || bad "moe_sim.png is not a PNG"
grep -q '"cell_params"' "$T/sim/moe_sim_summary.json" && ok || bad "summary lacks cell_params"
expect 2 "--split" "$G" moe simulate --split 3 --out "$T/sim"
rm -f "$T/sim/moe_sim.png"
expect 0 "wrote" "$G" moe simulate --replot "$T/sim"
[ -s "$T/sim/moe_sim.png" ] && ok || bad "--replot did not redraw moe_sim.png"
expect 1 "moe_sim_summary.json" "$G" moe simulate --replot "$T"
# design B (spec 7.3: 2 classes, x in [-3, 3]) runs and is recorded; other designs are refused
expect 0 "wrote" "$G" --quiet moe simulate --design B --case exact --reps 2 --ngrid 2 --nmin 500 --nmax 1000 --no-plot --out "$T/simB"
grep -Eq '"design":[[:space:]]*"B"' "$T/simB/moe_sim_summary.json" && ok || bad "summary does not record design B"
[ "$(wc -l < "$T/simB/moe_sim_exact.csv")" = 5 ] && ok || bad "design B csv rows"
expect 2 "--design" "$G" moe simulate --design C --out "$T/simB"

# bad input
sed '5s/.*/0.1,abc,1/' "$T/d.csv" > "$T/nonnum.csv"
expect 1 "nonnum.csv:5: column 'x2'" "$G" moe fit --csv "$T/nonnum.csv" --target label --experts 2 --out "$T/x.json"
expect 1 "no target column 'nope'" "$G" moe fit --csv "$T/d.csv" --target nope --experts 2 --out "$T/x.json"
expect 1 "class 3 has no rows" "$G" moe fit --csv "$T/d.csv" --target label --classes 4 --experts 2 --out "$T/x.json"
expect 2 "--experts takes an integer >= 1" "$G" moe fit --csv "$T/d.csv" --target label --experts 0 --out "$T/x.json"
sed '7s/.*/0.1,0.2,1.5/' "$T/d.csv" > "$T/frac.csv"
expect 1 "row 6, column 'label'" "$G" moe fit --csv "$T/frac.csv" --target label --experts 2 --out "$T/x.json"
sed '9s/.*/0.1,0.2/' "$T/d.csv" > "$T/short.csv"
expect 1 "short.csv:9: 2 fields" "$G" moe fit --csv "$T/short.csv" --target label --experts 2 --out "$T/x.json"
expect 1 "No such file" "$G" moe fit --csv "$T/missing.csv" --target label --experts 2 --out "$T/x.json"
# gm_csv_read parses nan/inf; moe still refuses them (line and column named)
sed '4s/.*/nan,0.2,1/' "$T/d.csv" > "$T/nan.csv"
expect 1 "nan.csv:4: column 'x1': 'nan' is not a finite number" "$G" moe fit --csv "$T/nan.csv" --target label --experts 2 --out "$T/x.json"
sed '6s/.*/0.1,-inf,1/' "$T/d.csv" > "$T/inf.csv"
expect 1 "inf.csv:6: column 'x2': '-inf' is not a finite number" "$G" moe predict --model "$T/m.json" --csv "$T/inf.csv"
cut -d, -f1,3 "$T/d.csv" > "$T/nox2.csv"
expect 1 "no feature column 'x2'" "$G" moe predict --model "$T/m.json" --csv "$T/nox2.csv"
echo '{"format": "genmix-moe"}' > "$T/badmodel.json"
expect 1 "not a genmix-moe model" "$G" moe predict --model "$T/badmodel.json" --csv "$T/d.csv"
[ -e "$T/x.json" ] && bad "a failed fit wrote its output" || ok
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
