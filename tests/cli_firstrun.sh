#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_firstrun.sh — what a new user meets first, command by command: the output rule (FIFO, symlink,
# character device, directory, missing folder, "-"), documented exit codes (1 bad input/run-time,
# 2 usage, 3 numerical) with messages naming the option and file, checks that run before any work
# (a run whose work would take minutes returns in under a second), and --quiet silencing progress only.
set -u
G=$(realpath "${1:-build/genmix}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
# expect CODE PATTERN cmd... : exit code and a stderr line matching PATTERN
expect() {
  local code=$1 pat=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; local rc=$?
  if [ "$rc" != "$code" ]; then bad "$* -> exit $rc (want $code): $(head -c 300 "$T/err")"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/err"; then bad "$* -> stderr lacks '$pat': $(head -c 300 "$T/err")"; return; fi
  ok
}
# fast CODE PATTERN cmd... : as expect, and it must return in under a second (checks before work)
fast() {
  local t0 t1; t0=$(date +%s%N)
  expect "$@"
  t1=$(date +%s%N)
  [ $(( (t1 - t0) / 1000000 )) -lt 1000 ] && ok || bad "$3 $4 took $(( (t1 - t0) / 1000000 )) ms (checks must come before work)"
}
E=$(realpath tests/golden)
R=$E/eval_real.npy; F=$E/eval_fake.npy
export OMP_WAIT_POLICY=passive

# ---- the output rule, through eval --json ------------------------------------------------------
EV=(--quiet eval --real "$R" --fake "$F" --metrics fd)
# FIFO: written directly (a reader gets the JSON), stays a FIFO
mkfifo "$T/fifo"
( cat "$T/fifo" > "$T/fifo.got" ) &
reader=$!
expect 0 "" "$G" "${EV[@]}" --json "$T/fifo"
wait $reader
grep -q '"genmix_version"' "$T/fifo.got" && ok || bad "FIFO reader did not get the JSON"
[ -p "$T/fifo" ] && ok || bad "FIFO was replaced"
# symlink: written through to its target, stays a link
echo old > "$T/target.json"; ln -s target.json "$T/link.json"
expect 0 "" "$G" "${EV[@]}" --json "$T/link.json"
[ -L "$T/link.json" ] && grep -q '"genmix_version"' "$T/target.json" && ok || bad "symlink not written through"
# character device: written directly, never replaced (our own node as root, else /dev/null)
dev=/dev/null
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null; then dev=$T/null; fi
expect 0 "" "$G" "${EV[@]}" --json "$dev"
[ -c "$dev" ] && ok || bad "$dev is no longer a character device"
ls "$T" | grep -q '\.tmp\.' && bad "temp file left behind" || ok
# a directory and a missing folder are refused before any work, naming the option
mkdir "$T/adir"
fast 1 "--json: .*is a directory" "$G" "${EV[@]}" --json "$T/adir"
[ -d "$T/adir" ] && ok || bad "directory replaced"
fast 1 "--json: .*nodir.*does not exist" "$G" "${EV[@]}" --json "$T/nodir/x.json"
[ ! -e "$T/nodir" ] && ok || bad "missing folder was created"
# "-" is standard output: the JSON is stdout, the table goes to stderr, no file named "-"
(cd "$T" && "$G" eval --real "$R" --fake "$F" --metrics fd --json - > "$T/dash.out" 2> "$T/dash.err")
/usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/dash.out" && ok || bad "--json - is not JSON on stdout"
grep -q "FD" "$T/dash.err" && ok || bad "--json -: the table should be on stderr"
[ ! -e "$T/-" ] && ok || bad "--json - created a file named '-'"

# ---- eval: usage (2), bad input (1), before work -----------------------------------------------
expect 2 "--prd-angles takes an integer in 3..100000" "$G" eval --real "$R" --fake "$F" --prd-angles 100000000
expect 2 "--tile takes an integer in 1..65536" "$G" eval --real "$R" --fake "$F" --tile 100000000
expect 2 "--kid-subsets takes an integer in 1..100000" "$G" eval --real "$R" --fake "$F" --kid-subsets 0
expect 2 "--kid-size takes" "$G" eval --real "$R" --fake "$F" --kid-size 0
expect 2 "--bootstrap takes" "$G" eval --real "$R" --fake "$F" --bootstrap -1
expect 2 "--is-splits takes" "$G" eval --real "$R" --fake "$F" --is-splits 0
expect 2 "--rke-mc takes" "$G" eval --real "$R" --fake "$F" --rke-mc x
expect 2 "--k takes an integer in 1..100000" "$G" eval --real "$R" --fake "$F" --k 0
expect 2 "only one of" "$G" eval --real "$R" --fake "$F" --json - --prd-out -
expect 1 "--real: .*nope.npy" "$G" eval --real "$T/nope.npy" --fake "$F"
expect 1 "--fake: .*is a directory" "$G" eval --real "$R" --fake "$T/adir"
expect 1 "--fake: .*not a regular file" "$G" eval --real "$R" --fake "$T/fifo"   # a FIFO without writer: no hang
# sizes vs k for every --fake before the first metric: nothing printed on stdout
expect 1 "--k-pr (or --k) in 1..299, got 300" "$G" eval --real "$R" --fake "$R" --fake "$F" --k 300
[ ! -s "$T/out" ] && ok || bad "--k 300 printed a report before failing"
expect 1 "statistics file" "$G" eval --real $E/eval_real_stats.npz --fake "$F" --metrics fd,kid
[ ! -s "$T/out" ] && ok || bad "stats file + kid printed FD before failing"
# work that would take minutes (1000 PRD runs x 1e5 angles) fails on its output path first
fast 1 "--prd-out" "$G" eval --real "$R" --fake "$F" --metrics prd --prd-angles 100000 --prd-runs 1000 --prd-out "$T/nodir/c.npy"
fast 1 "--save-stats" "$G" eval --real "$R" --save-stats "$T/adir"
fast 1 "--realism-out" "$G" eval --real "$R" --fake "$F" --realism-out "$T/nodir/r.npy"
# --quiet silences progress, never warnings (KID subset shrunk: --kid-size above the set sizes)
"$G" --quiet eval --real "$R" --fake "$F" --metrics kid --kid-subsets 2 --kid-size 5000 > /dev/null 2> "$T/qerr"
grep -q "warning: .*KID subset size shrunk" "$T/qerr" && ok || bad "--quiet hid the KID warning"
grep -q "eval: reading" "$T/qerr" && bad "--quiet printed progress" || ok
# numerical failure (3): features so large that every distance overflows
/usr/bin/python3 -c "
import numpy as np, sys
np.save(sys.argv[1] + '/huge.npy', np.full((20, 3), 1e300) * np.arange(1, 21)[:, None])
x = np.zeros((2, 784), np.float32); x[0, 0] = 255; np.save(sys.argv[1] + '/img255.npy', x)
" "$T"
expect 3 "genmix: error: FD" "$G" --quiet eval --real "$T/huge.npy" --fake "$T/huge.npy" --metrics fd

# ---- train / features: checks before the data loads or an epoch runs -------------------------------
fast 1 "--out: .*nodir.*does not exist" "$G" train vae --epochs 50 --out "$T/nodir/v.st"
fast 1 "--out: .*nodir.*does not exist" "$G" train gan --data toy:8gaussians --iters 100000 --out "$T/nodir/g.st"
fast 1 "--out: .*nodir.*does not exist" "$G" train flow --data toy:8gaussians --iters 100000 --out "$T/nodir/f.st"
fast 1 "--out: .*nodir.*does not exist" "$G" train ddpm --data toy:gmm2 --steps 100000 --out "$T/nodir/d.st"
fast 1 "--plot: .*nodir.*does not exist" "$G" pr-curve --real "$T/huge.npy" --fake "$T/huge.npy" --plot "$T/nodir/p.png"
printf x > "$T/afile"
fast 1 "--out: .*afile exists and is not a folder" "$G" align --model toy:gmm2 --reward gmm2 --alpha 1 --particles 2000 --runs 200 --out "$T/afile"
fast 1 "--json: .*is a directory" "$G" train classifier --epochs 50 --out "$T/c.st" --json "$T/adir"
fast 1 "--out: .*nodir" "$G" train classifier --epochs 50 --out "$T/nodir/c.st"
expect 2 "--lr takes a number in (0, 10]" "$G" train classifier --lr 10.5 --out "$T/c.st"
expect 2 "--epochs takes an integer in 1..10000" "$G" train vae --epochs 0 --out "$T/v.st"
fast 1 "--out (with --resume)" "$G" train vae --resume --out "$T/none.st"
"$G" --quiet train classifier --limit 64 --batch 32 --epochs 1 --seed 1 --out "$T/clf.st" > /dev/null || bad "tiny classifier"
expect 2 "--epochs differs from the checkpoint" "$G" train classifier --limit 64 --resume --epochs 3 --out "$T/clf.st"
expect 0 "" "$G" --quiet train classifier --limit 64 --resume --epochs 1 --out "$T/clf.st"
grep -q "nothing trained" "$T/out" && ok || bad "a complete checkpoint resumed claims to have trained"
expect 1 "--in .*img255.npy: float pixels must be in \[0, 1\]" "$G" features --model "$T/clf.st" --in "$T/img255.npy" --out "$T/f.npy"
[ ! -e "$T/f.npy" ] && ok || bad "features wrote garbage for 0..255 floats"
fast 1 "--out: .*is a directory" "$G" features --model "$T/clf.st" --in "$T/img255.npy" --out "$T/adir"
fast 1 "--model: .*nope" "$G" features --model "$T/nope.st" --in "$T/img255.npy" --out "$T/f.npy"
fast 1 "--model: .*nope" "$G" sample --model "$T/nope.st" --n 4 --out "$T/s.npy"
fast 1 "--out: .*nodir" "$G" sample --model "$T/clf.st" --n 4 --out "$T/nodir/s.npy"

# ---- mix / moe / plot / data / inspect ---------------------------------------------------------------
M=$E/mix_b0.npy
expect 2 "--runs takes an integer in 1..100000" "$G" mix --arm $M --arm $E/mix_b1.npy --score rke --sigma 1 --runs 1000001
fast 1 "--arm: .*nope" "$G" mix --arm $M --arm "$T/nope.npy" --score rke --sigma 1
echo x > "$T/afile"
fast 1 "--out: .*not a folder" "$G" mix --arm $M --arm $E/mix_b1.npy --score rke --sigma 1 --rounds 100000 --runs 1000 --out "$T/afile"
printf 'x1,label\n0.1,0\n0.9,1\n0.2,0\n0.8,1\n' > "$T/d.csv"
expect 2 "--experts takes an integer >= 1" "$G" moe fit --csv "$T/d.csv" --target label --experts 0 --out "$T/m.json"
fast 1 "--out: .*nodir" "$G" moe fit --csv "$T/d.csv" --target label --experts 2 --restarts 1000 --out "$T/nodir/m.json"
fast 1 "--csv: .*nope" "$G" moe fit --csv "$T/nope.csv" --target label --experts 2 --out "$T/m.json"
fast 1 "--out: .*not a folder" "$G" moe simulate --out "$T/afile"
fast 1 "--out: .*is a directory" "$G" plot --csv "$T/d.csv" --x x1 --y label --out "$T/adir"
fast 1 "--csv: .*nope" "$G" plot --csv "$T/nope.csv" --x x1 --y label --out "$T/p.png"
fast 1 "--out: .*not a folder" "$G" data fashion-mnist --out "$T/afile"
expect 1 "is a directory" "$G" inspect "$T/adir"
: > "$T/empty"
expect 1 "empty file" "$G" inspect "$T/empty"
expect 1 "not a regular file" "$G" inspect "$T/fifo"

echo "cli_firstrun: $pass passed, $fail failed"
[ "$fail" = 0 ]
