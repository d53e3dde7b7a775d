#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of `genmix align`: help, usage errors (exit 2), reward failures (exit 1 / 3, nothing written),
# DAS values on the GMM-2 toy against the reweighting oracle, command/plugin rewards equal to the built-in
# reward, output files, determinism.
set -u
G=${1:-build/genmix}
B=$(dirname "$G")
PLUGIN="$B/tests/genmix_reward_test.so"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $1" >&2; fail=1; fi; }
A="$G --quiet align --model toy:gmm2"

"$G" align --help > "$T/help" 2>&1; check "[ $? -eq 0 ]"
check "grep -q 'usage: genmix align' '$T/help'"
# usage errors: exit 2, one message naming the option
$A --reward gmm2 --alpha 0 > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
check "grep -q -- '--alpha' '$T/err'"
$A --reward gmm2 --alpha -1 > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward gmm2 > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward gmm2 --alpha 1 --particles 0 > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
check "grep -q -- '--particles' '$T/err'"
$A --reward gmm7 --alpha 1 > /dev/null 2> "$T/err"; check "[ $? -eq 2 ]"
check "grep -q 'gmm7' '$T/err'"
"$G" --quiet align --model toy:nope --reward gmm2 --alpha 1 > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward gmm2 --alpha 1 --steps 1001 > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward gmm2 --alpha 1 --steps 30 --particles 10 > /dev/null 2>&1; check "[ $? -eq 0 ]"   # any step count
$A --reward gmm2 --alpha 1 --resample stratified > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward gmm2 --alpha 1 --grad some > /dev/null 2>&1; check "[ $? -eq 2 ]"
$A --reward 'cmd:true' --alpha 1 --grad none > /dev/null 2>&1; check "[ $? -eq 2 ]"   # no {in} {out}
$A --reward "cmd:python3 tools/reward_cmd_example.py {in} {out}" --alpha 1 > /dev/null 2> "$T/err"
check "[ $? -eq 2 ]"; check "grep -q 'grad none' '$T/err'"                           # no gradient

# reward failures: exit 1 (command fails / wrong shape / missing plugin) or 3 (NaN); no output written
CMD="cmd:python3 tools/reward_cmd_example.py {in} {out}"
for mode in fail shape; do
  $A --reward "$CMD $mode" --grad none --alpha 1 --particles 20 --steps 5 --out "$T/bad" > /dev/null 2> "$T/err"
  check "[ $? -eq 1 ]"; check "grep -q '^genmix: error: .*reward_cmd_example' '$T/err'"; check "[ ! -e '$T/bad' ]"
done
$A --reward "$CMD nan" --grad none --alpha 1 --particles 20 --steps 5 --out "$T/bad" > /dev/null 2> "$T/err"
check "[ $? -eq 3 ]"; check "grep -q 'non-finite' '$T/err'"; check "[ ! -e '$T/bad' ]"
$A --reward "plugin:$T/missing.so" --alpha 1 > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q 'missing.so' '$T/err'"
# --out naming an existing file: run-time error, the file is untouched
echo keep > "$T/file"
$A --reward gmm2 --alpha 1 --particles 8 --steps 10 --out "$T/file" > /dev/null 2>&1; check "[ $? -eq 1 ]"
check "[ \"\$(cat '$T/file')\" = keep ]"

# values: DAS (N = 100, 40 runs) vs the reweighting oracle of the same 100-step sampler (spec 7.3:
# (0,4) 0.805, (0,-4) 0.173, E[r] -1.318), 4 SE + 0.02; closed forms reported
$A --reward gmm2 --alpha 1 --particles 100 --steps 100 --runs 40 --resample systematic --json --out "$T/das" > "$T/das.json"
check "[ $? -eq 0 ]"
$A --reward gmm2 --alpha 1 --particles 100 --steps 100 --runs 40 --resample systematic --json > "$T/das2.json"
check "diff <(grep -v seconds '$T/das.json') <(grep -v seconds '$T/das2.json') > /dev/null"   # same seed, same output
/usr/bin/python3 - "$T/das.json" "$T/das/summary.json" <<'PY' || fail=1
import json, sys
j = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2]))
assert f["mode_weights"] == j["mode_weights"]
w, se = j["mode_weights"], j["mode_weights_se"]
assert abs(w[2] - 0.805) < 4 * se[2] + 0.02 + 0.006 * 4, (w[2], se[2])
assert abs(w[6] - 0.173) < 4 * se[6] + 0.02 + 0.006 * 4, (w[6], se[6])
assert abs(j["mean_reward"] - (-1.318)) < 4 * j["mean_reward_se"] + 0.03, j["mean_reward"]
assert abs(j["closed_form"]["log_z"] - (-2.96780)) < 1e-5
assert abs(j["closed_form"]["mean_reward"] - (-1.34004)) < 1e-5
assert len(j["run"]) == 40 and len(j["run"][0]["ess_frac"]) == 101 and j["run"][0]["lambda"][100] == 1
# the runs pooled by their Z^: sum_k Z^_k w_k / sum_k Z^_k from the per-run log_z and mode weights
import math
lz = [r["log_z"] for r in j["run"]]
a = [math.exp(x - max(lz)) for x in lz]
for c in range(8):
    p = sum(ak * r["mode_weights"][c] for ak, r in zip(a, j["run"])) / sum(a)
    assert abs(p - j["mode_weights_pooled_by_zhat"][c]) < 1e-12, (c, p, j["mode_weights_pooled_by_zhat"][c])
    s = math.sqrt(sum((ak / sum(a)) ** 2 * (r["mode_weights"][c] - p) ** 2 for ak, r in zip(a, j["run"])))
    assert abs(s - j["mode_weights_pooled_by_zhat_se"][c]) < 1e-12
PY
check "[ -s '$T/das/trace.png' ] && [ -s '$T/das/samples.png' ]"
check "head -c 8 '$T/das/trace.png' | od -An -c | grep -q 'P   N   G'"
check "head -c 80 '$T/das/samples.npy' | grep -q \"'shape': (4000, 2)\""
check "head -c 80 '$T/das/weights.npy' | grep -q \"'shape': (4000,)\""

# the plugin (same reward with its gradient) and the command reward (grad none) reproduce the built-in one
$A --reward gmm2 --alpha 1 --particles 50 --steps 20 --seed 3 --json > "$T/b.json"
$A --reward "plugin:$PLUGIN" --alpha 1 --particles 50 --steps 20 --seed 3 --json > "$T/p.json"; check "[ $? -eq 0 ]"
$A --reward gmm2 --grad none --alpha 1 --particles 30 --steps 5 --seed 3 --json > "$T/b0.json"
$A --reward "$CMD" --grad none --alpha 1 --particles 30 --steps 5 --seed 3 --json > "$T/c0.json"; check "[ $? -eq 0 ]"
/usr/bin/python3 - "$T/b.json" "$T/p.json" "$T/b0.json" "$T/c0.json" <<'PY' || fail=1
import json, sys
b, p, b0, c0 = (json.load(open(a)) for a in sys.argv[1:5])
assert abs(b["mean_reward"] - p["mean_reward"]) < 1e-6 and abs(b["log_z_mean"] - p["log_z_mean"]) < 1e-6
assert abs(b0["mean_reward"] - c0["mean_reward"]) < 1e-6 and abs(b0["log_z_mean"] - c0["log_z_mean"]) < 1e-6
PY

# baselines run and report: oracle (weights), base, best-of-n, guidance
for m in oracle base best-of-n guidance; do
  $A --reward gmm2 --alpha 1 --particles 200 --steps 50 --method $m > "$T/$m.txt"; check "[ $? -eq 0 ]"
  check "grep -q 'mean_reward' '$T/$m.txt'"
done
# a trained toy model (genmix train ddpm, short run) aligns like the exact one; a checkpoint of another
# model type is refused (exit 1)
"$G" --quiet train ddpm --data toy:gmm2 --points 5000 --steps 150 --batch 256 --hidden 32 --out "$T/m.safetensors" > /dev/null
check "[ $? -eq 0 ]"
$A --reward gmm2 --alpha 1 --particles 50 --steps 20 --json > /dev/null; check "[ $? -eq 0 ]"
"$G" --quiet align --model "$T/m.safetensors" --reward gmm2 --alpha 1 --particles 50 --steps 20 --json > "$T/m.json"
check "[ $? -eq 0 ]"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert abs(sum(j['mode_weights'])-1)<1e-9 and j['mean_reward']<0" "$T/m.json" || fail=1
"$G" --quiet train ddpm --data toy:gmm5 --out "$T/x.safetensors" > /dev/null 2>&1; check "[ $? -eq 2 ]"
/usr/bin/python3 -c "import sys; d=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(d.replace(b'ddpm-mlp', b'classify'))" "$T/m.safetensors" "$T/notddpm.safetensors"
"$G" --quiet align --model "$T/notddpm.safetensors" --reward gmm2 --alpha 1 > /dev/null 2> "$T/err"; check "[ $? -eq 1 ]"
check "grep -q 'not a ddpm-mlp' '$T/err'"
[ $fail -eq 0 ] && echo "cli_align: ok"
exit $fail
