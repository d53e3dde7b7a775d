#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_plot.sh — `genmix plot`: a real plot from a CSV, byte-identical reruns, options, and error paths
# (usage errors exit 2 with a message, run-time errors exit 1 with one "genmix: error:" line).
set -u
GENMIX="${1:?usage: cli_plot.sh path/to/genmix}"
tmp=$(mktemp -d /tmp/gm_cli_plot_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect CODE CMD...: run, check the exit code, keep stdout/stderr in $tmp/out, $tmp/err
expect() {
    local want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "exit $got (wanted $want): $*"; cat "$tmp/err"; fi
}
has() { if grep -q -- "$2" "$1"; then ok; else bad "$1 lacks '$2':"; cat "$1"; fi; }
is_png() { if [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then ok; else bad "$1 is not a PNG"; fi; }

# a per-round trajectory table: round, two scores (one with a NaN gap), a log-scale column
{
    echo 'round,kid_ucb,"kid, oracle",regret'
    awk 'BEGIN { for (t = 1; t <= 60; t++) {
        u = 0.05 + 0.5 * exp(-t / 15); o = (t == 30) ? "nan" : sprintf("%.6f", 0.04 + 0.2 / t);
        printf "%d,%.6f,%s,%.6g\r\n", t, u, o, 3 * sqrt(t) }; printf "\n\n" }'
} >"$tmp/rounds.csv"

expect 0 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --y "kid, oracle" --title "KID vs round" \
    --out "$tmp/a.png"
is_png "$tmp/a.png"
has "$tmp/out" "2 series, 60 rows"
# deterministic: the same command gives the same bytes
expect 0 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --y "kid, oracle" --title "KID vs round" \
    --out "$tmp/b.png"
if cmp -s "$tmp/a.png" "$tmp/b.png"; then ok; else bad "reruns differ"; fi
# options: log axes, repeated --y, points, ranges, size, hline
expect 0 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y regret --y kid_ucb --logx --logy --points \
    --xrange 1, --yrange ,100 --hline 1 --width 400 --height 300 --xlabel "t" --ylabel "value" --out "$tmp/c.png"
is_png "$tmp/c.png"
size=$(od -An -j16 -N8 -tu1 "$tmp/c.png" | tr -s ' ')
if [ "$size" = " 0 0 1 144 0 0 1 44" ]; then ok; else bad "c.png header size bytes '$size' (wanted 400x300)"; fi
# --help and help plot
expect 0 "$GENMIX" plot --help
has "$tmp/out" "usage: genmix plot"
expect 0 "$GENMIX" help plot
has "$tmp/out" "--logy"

# usage errors: exit 2
expect 2 "$GENMIX" plot --x round --y kid_ucb --out "$tmp/d.png"
has "$tmp/err" "--csv is required"
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --out "$tmp/d.png"
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --out "$tmp/d.png" --width 10
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --out "$tmp/d.png" --xrange 5
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --out "$tmp/d.png" --bogus
has "$tmp/err" "unknown option"
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --out "$tmp/d.png" --hline nan

# run-time errors: exit 1, one line naming the problem, no output file
expect 1 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y nope --out "$tmp/d.png"
has "$tmp/err" "genmix: error: .*no column 'nope'"
expect 1 "$GENMIX" plot --csv "$tmp/rounds.csv" --x rnd --y kid_ucb --out "$tmp/d.png"
has "$tmp/err" "no column 'rnd'"
expect 1 "$GENMIX" plot --csv "$tmp/missing.csv" --x round --y kid_ucb --out "$tmp/d.png"
has "$tmp/err" "missing.csv"
printf 'a,b\n1,2\n3,oops\n' >"$tmp/bad.csv"
expect 1 "$GENMIX" plot --csv "$tmp/bad.csv" --x a --y b --out "$tmp/d.png"
has "$tmp/err" "bad.csv:3: column 'b'"
printf 'a,b\n1,2\n3\n' >"$tmp/ragged.csv"
expect 1 "$GENMIX" plot --csv "$tmp/ragged.csv" --x a --y b --out "$tmp/d.png"
has "$tmp/err" "ragged.csv:3"
expect 2 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --yrange 1,0 --out "$tmp/d.png"
has "$tmp/err" "--yrange"
expect 1 "$GENMIX" plot --csv "$tmp/rounds.csv" --x round --y kid_ucb --out "$tmp/no/such/dir/d.png"
has "$tmp/err" "no/such/dir/d.png"
if [ ! -e "$tmp/d.png" ]; then ok; else bad "d.png written despite errors"; fi
lines=$(wc -l <"$tmp/err")
if [ "$lines" -eq 1 ]; then ok; else bad "error output has $lines lines"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
