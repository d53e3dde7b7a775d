#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of `genmix mcmc-linear`: help, usage errors, and the closed-form vs simulated table.
set -u
G=${1:-build/genmix}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }

"$G" mcmc-linear --help > "$T/help" 2>&1; check "[ $? -eq 0 ]"
check "grep -q 'usage: genmix mcmc-linear' '$T/help'"
"$G" mcmc-linear --chains x > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
"$G" mcmc-linear --lambda 0.1 > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" mcmc-linear --bogus > /dev/null 2>&1; check "[ $? -eq 2 ]"
"$G" --quiet mcmc-linear --chains 4000 --steps 150 --seed 3 --json "$T/out.json" > "$T/out" 2> "$T/err"
check "[ $? -eq 0 ]"
check "[ ! -s '$T/err' ]"
# simulated within 0.1 of the closed form for the three non-degenerate rows; collapse below 1e-15
/usr/bin/python3 - "$T/out.json" <<'PY' || fail=1
import json, sys
j = json.load(open(sys.argv[1]))
rows = {r["chain"]: r for r in j["rows"]}
assert abs(rows["VAE exact Gibbs"]["closed_form"] - 1.0) < 1e-9
assert abs(rows["VAE (Kaixhin)"]["closed_form"] - 4 / 7.5) < 1e-9
assert abs(rows["linear DAAE"]["closed_form"] - 4.5 / 8.5) < 1e-9
for k in ("VAE exact Gibbs", "VAE (Kaixhin)", "linear DAAE"):
    assert abs(rows[k]["simulated"] - rows[k]["closed_form"]) < 0.1, rows[k]
assert rows["VAE mean/mean"]["simulated"] < 1e-15
for c in j["convergence"]:
    assert abs(c["simulated"] - c["theory"]) < 0.1, c
PY
# same seed, same output
"$G" --quiet mcmc-linear --chains 4000 --steps 150 --seed 3 > "$T/out2"
check "cmp -s '$T/out' '$T/out2'"
# unwritable JSON path: run-time error, exit 1, one line
"$G" --quiet mcmc-linear --chains 100 --steps 50 --json /nonexistent/dir/x.json > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q '^genmix: error:' '$T/err'"
[ $fail -eq 0 ] && echo "cli_mcmc_linear: ok"
exit $fail
