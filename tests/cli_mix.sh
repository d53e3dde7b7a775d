#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_mix.sh — `genmix mix` end to end on the spec's synthetic cases (tests/golden/mix_*.npy from
# tools/gen_mix_fixtures.py): case B (RKE, oracle 8.25 for the population; offline optimum from the
# 1200-sample pools ~ (0.15, 0.25, 0.60)), case E (KID, optimum = reference weights 0.2/0.3/0.5),
# --sigma median, outputs, determinism over --threads, and bad input (one-line errors, exit 1; usage errors exit 2).
set -u
G=${1:?usage: cli_mix.sh path/to/genmix}
D=tests/golden
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
B="--arm $D/mix_b0.npy --arm $D/mix_b1.npy --arm $D/mix_b2.npy"

# help
"$G" mix --help | grep -q "usage: genmix mix" && ok help || bad help

# case B: offline optimum and online algorithms, JSON summary
"$G" --quiet mix $B --score rke --sigma 1 --algo ogd,cab,uniform --rounds 1000 --runs 3 --seed 1 --json > "$T/b.json" 2> "$T/err" \
  && grep -q '"higher_is_better":[[:space:]]*true' "$T/b.json" && grep -q '"regret"' "$T/b.json" && ok "case B json" || bad "case B json: $(cat "$T/err")"
# the text summary
"$G" --quiet mix $B --score rke --sigma 1 --algo ogd --rounds 1000 --seed 1 > "$T/b.txt" || bad "case B text"
awk '/^offline optimum/ { if ($3 > 0.12 && $3 < 0.18 && $5 > 0.56 && $5 < 0.64 && $7 > 7.8 && $7 < 8.5) f = 1 } END { exit !f }' "$T/b.txt" \
  && ok "case B offline optimum" || { bad "case B offline optimum"; cat "$T/b.txt"; }
awk '/^ogd/ { if ($6 > 7.5) f = 1 } END { exit !f }' "$T/b.txt" && ok "case B ogd score" || { bad "case B ogd score"; cat "$T/b.txt"; }

# case E: KID with a beta-mixture reference
"$G" --quiet mix --arm $D/mix_e0.npy --arm $D/mix_e1.npy --arm $D/mix_e2.npy --ref $D/mix_eref.npy --score kid --sigma 1 \
  --algo ogd --delta-l 0.6 --delta-kappa 0 --rounds 1200 --seed 2 > "$T/e.txt" || bad "case E run"
awk '/^offline optimum/ { if ($3 > 0.14 && $3 < 0.26 && $4 > 0.24 && $4 < 0.36 && $5 > 0.44 && $5 < 0.56 && $7 < 0.01) f = 1 } END { exit !f }' "$T/e.txt" \
  && ok "case E offline optimum" || { bad "case E offline optimum"; cat "$T/e.txt"; }
awk '/^ogd/ { if ($2 > 0.12 && $2 < 0.28 && $4 > 0.40 && $4 < 0.60 && $6 < 0.01) f = 1 } END { exit !f }' "$T/e.txt" \
  && ok "case E ogd" || { bad "case E ogd"; cat "$T/e.txt"; }

# --sigma median (explicit request) and a quality term
"$G" mix --arm $D/mix_e0.npy --arm $D/mix_e1.npy --ref $D/mix_eref.npy --score kid,precision --sigma median --algo cab \
  --rounds 300 > "$T/m.txt" 2> "$T/m.err" && grep -q "sigma median = 1\.[0-9]" "$T/m.err" && grep -q "(objective)" "$T/m.txt" \
  && ok "sigma median + precision" || { bad "sigma median + precision"; cat "$T/m.err"; }

# outputs
"$G" --quiet mix $B --score rke --sigma 1 --algo cab,sh --rounds 300 --runs 2 --out "$T/o" > /dev/null || bad "out run"
for f in mix.json trajectory_cab.csv trajectory_sh.csv score.png; do [ -s "$T/o/$f" ] || bad "missing $f"; done
[ "$(wc -l < "$T/o/trajectory_cab.csv")" -eq 301 ] && head -1 "$T/o/trajectory_cab.csv" | grep -q "^round,score_mean,score_sd,objective_mean,regret_mean,w0,w1,w2," \
  && ok "trajectory csv" || bad "trajectory csv"
head -1 "$T/o/trajectory_sh.csv" | grep -q "w2$" && head -1 "$T/o/trajectory_cab.csv" | grep -q "w2,qp0,qp1,qp2$" && ok "csv columns" || bad "csv columns"

# identical results for 1 and 2 threads
"$G" --quiet --threads 1 mix $B --score rke --sigma 1 --algo cab --rounds 400 --runs 3 --seed 5 --json > "$T/t1.json"
"$G" --quiet --threads 2 mix $B --score rke --sigma 1 --algo cab --rounds 400 --runs 3 --seed 5 --json > "$T/t2.json"
cmp -s "$T/t1.json" "$T/t2.json" && ok "threads" || bad "threads"

# bad input: one line, exit 1
expect_err() { # name, expected substring, args...
  local name=$1 want=$2; shift 2
  "$G" mix "$@" > /dev/null 2> "$T/err"; local rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "$want" "$T/err"; then ok "$name"; else bad "$name (rc $rc: $(cat "$T/err"))"; fi
}
expect_err "different D" "arm 1 has D = 3" --arm $D/mix_b0.npy --arm $D/mix_d3.npy --score rke --sigma 1 --rounds 100
expect_err "too few samples" "fewer than --rounds 100" --arm $D/mix_b0.npy --arm $D/mix_small.npy --score rke --sigma 1 --rounds 100
expect_err "empty arm" "empty" --arm $D/mix_b0.npy --arm $D/mix_empty.npy --score rke --sigma 1 --rounds 10
expect_err "NaN" "NaN" --arm $D/mix_b0.npy --arm $D/mix_nan.npy --score rke --sigma 1 --rounds 10
expect_err "ref D" "reference has D = 3" --arm $D/mix_b0.npy --ref $D/mix_d3.npy --score kid --sigma 1 --rounds 10
expect_err "missing file" "nope.npy" --arm $D/nope.npy --score rke --sigma 1
# usage errors: exit 2
for args in "--arm $D/mix_b0.npy --score rke" "--arm $D/mix_b0.npy --score kid --sigma 1" "--arm $D/mix_b0.npy --score foo --sigma 1" \
            "--arm $D/mix_b0.npy --score rke --sigma 1 --algo cab,zzz" "--score rke --sigma 1"; do
  "$G" mix $args > /dev/null 2>&1; [ $? -eq 2 ] && ok "usage: $args" || bad "usage: $args"
done

if [ $fail -eq 0 ]; then echo "all passed, 0 failed"; exit 0; else echo "$fail failed"; exit 1; fi
