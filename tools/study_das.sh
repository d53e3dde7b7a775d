#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_das.sh — the toy part of the DAS study (docs/das.md, spec §7.2 and §10): for GMM-1 and GMM-2 with
# the exact denoiser, DAS vs the reweighting oracle, plain guidance and best-of-N (100 runs each: mode
# weights, E[r], log Ẑ, sample plots), and the GMM-1 alpha sweep (DAS E[r] vs the oracle and the closed form).
# Writes results/study_das/ (summary.tsv, alpha_sweep.csv, alpha_sweep.png, <toy>_<method>/ outputs).
# Usage: bash tools/study_das.sh [build/genmix] [runs]     (about 1-2 minutes of CPU)
set -euo pipefail
G=${1:-build/genmix}
R=${2:-100}
OUT=results/study_das
mkdir -p "$OUT"
A="$G --quiet align"
printf 'toy\tmethod\tmean_reward\tmean_reward_se\tlog_mean_zhat\tmode_weights\n' > "$OUT/summary.tsv"
row() { # toy method json
  /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[3]))
print("\t".join([sys.argv[1], sys.argv[2], "%.4f" % j["mean_reward"], "%.4f" % j["mean_reward_se"],
                 "%.4f" % j.get("log_mean_zhat", float("nan")), " ".join("%.4f" % w for w in j["mode_weights"])]))' "$@"
}
for toy in gmm1 gmm2; do
  $A --model toy:$toy --reward $toy --alpha 1 --particles 100 --steps 100 --runs "$R" --json --out "$OUT/${toy}_das" > "$OUT/${toy}_das.json"
  $A --model toy:$toy --reward $toy --alpha 1 --particles 16000 --steps 100 --method oracle --json --out "$OUT/${toy}_oracle" > "$OUT/${toy}_oracle.json"
  $A --model toy:$toy --reward $toy --alpha 1 --particles 100 --steps 100 --runs "$R" --method guidance --json --out "$OUT/${toy}_guidance" > "$OUT/${toy}_guidance.json"
  $A --model toy:$toy --reward $toy --alpha 1 --particles 300 --steps 100 --runs "$R" --method best-of-n --json --out "$OUT/${toy}_bestofn" > "$OUT/${toy}_bestofn.json"
  $A --model toy:$toy --reward $toy --alpha 1 --particles 100 --steps 100 --runs "$R" --tempering none --json > "$OUT/${toy}_tds.json"
  $A --model toy:$toy --reward $toy --alpha 1 --particles 100 --steps 100 --runs "$R" --grad none --json > "$OUT/${toy}_bootstrap.json"
  for m in oracle das tds bootstrap guidance bestofn; do row $toy $m "$OUT/${toy}_$m.json" >> "$OUT/summary.tsv"; done
done
# alpha sweep on GMM-1: E[r] of DAS (N = 100) and the oracle (M = 16000) vs the closed form
echo "alpha,das,oracle,closed_form" > "$OUT/alpha_sweep.csv"
for a in 0.1 0.3 1 3 10; do
  $A --model toy:gmm1 --reward gmm1 --alpha $a --particles 100 --runs "$R" --json > "$OUT/sweep_das.json"
  $A --model toy:gmm1 --reward gmm1 --alpha $a --particles 16000 --method oracle --json > "$OUT/sweep_or.json"
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[2])); o = json.load(open(sys.argv[3]))
print("%s,%.5f,%.5f,%.5f" % (sys.argv[1], d["mean_reward"], o["mean_reward"], d["closed_form"]["mean_reward"]))' \
    $a "$OUT/sweep_das.json" "$OUT/sweep_or.json" >> "$OUT/alpha_sweep.csv"
done
rm -f "$OUT/sweep_das.json" "$OUT/sweep_or.json"
"$G" --quiet plot --csv "$OUT/alpha_sweep.csv" --x alpha --y das,oracle,closed_form --logx --points \
  --title "GMM-1: E[r] of the aligned samples vs alpha" --ylabel "E[r]" --out "$OUT/alpha_sweep.png"
column -t -s $'\t' "$OUT/summary.tsv"
cat "$OUT/alpha_sweep.csv"
