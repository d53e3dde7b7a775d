#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Demo stage: reward alignment of the Fashion-MNIST diffusion model by DAS (issue 14, docs/das.md).
# 1. The U-Net DDPM (C = 8, 1500 Adam steps, lr 1e-3, EMA 0.995) is trained once into $CACHE
#    (388 s of CPU on one core, 0.26 s per step; resumable) unless GM_DEMO_DDPM names a checkpoint.
# 2. An independent classifier (same CNN as stage 20, seed 2, 3 epochs; about 3 minutes, cached) scores
#    the samples: the reward network never grades itself.
# 3. Target p(x) ∝ p_theta(x) p(c in {trouser, bag, sneaker} | x) (alpha = 1, reward = stage 20's
#    classifier): DAS with N = 16 particles, 4 runs, S = 100; the reference is the reweighting oracle on
#    128 base samples of the same model. Grids: $OUT/das_base.png, $OUT/das_aligned.png.
# 52 s of CPU once the models are cached (measured; 6 minutes of wall time on the loaded 2-core machine).
set -euo pipefail
: "${GENMIX:?}" "${OUT:?}" "${CACHE:?}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
CLF="$CACHE/clf.safetensors"
EVAL="$CACHE/evalclf_s2.safetensors"
DDPM=$CACHE/demo_ddpm_unet8.safetensors
if [ -n "${GM_DEMO_DDPM:-}" ]; then
  DDPM=$GM_DEMO_DDPM  # a given checkpoint is used as it is
elif [[ ! -f "$DDPM" || ! -f "$DDPM.done" ]]; then
  resume=""
  [ -f "$DDPM.train" ] && resume="--resume"
  t0=$(date +%s)
  "$GENMIX" --quiet train ddpm --data fashion-mnist --channels 8 --steps 1500 --lr 1e-3 --ema 0.995 --every 250 \
    --seed 1 --out "$DDPM" $resume > /dev/null
  echo "trained in $(( $(date +%s) - t0 )) s" > "$DDPM.done"
fi
[ -f "$EVAL" ] || "$GENMIX" --quiet train classifier --data fashion-mnist --seed 2 --epochs 3 --out "$EVAL" > /dev/null
W="$OUT/das"
rm -rf "$W"
R="classifier:$CLF:trouser,bag,sneaker"
A=("$GENMIX" --quiet align --model "$DDPM" --reward "$R" --alpha 1 --steps 100 --eval-clf "$EVAL" --json)
"${A[@]}" --method base --particles 128 --seed 7 --out "$W/base" > "$W.base.json"
"${A[@]}" --method oracle --particles 128 --base-samples "$W/base/samples.npy" --out "$W/oracle" > "$W.oracle.json"
"${A[@]}" --particles 16 --runs 4 --seed 1 --out "$W/das" > "$W.das.json"
cp "$W/base/grid.png" "$OUT/das_base.png"
cp "$W/das/grid.png" "$OUT/das_aligned.png"
# one line per method: independent classifier's mass on trouser / bag / sneaker and in S, log Z, time
for m in base oracle das; do
  awk -v m=$m '
    function num(line) { sub(/^[^:]*:[ \t]*/, "", line); sub(/,$/, "", line); return line }
    # the first class_hist / in_set are the equal-weight ones (DAS over runs adds "pooled_by_zhat" after them)
    /"class_hist":/ && !hv { l = $0; sub(/.*\[/, "", l); sub(/\].*/, "", l); split(l, v, ", *"); hv = 1 }
    /"in_set":/ && !hs { s = num($0); hs = 1 }
    /"log_mean_zhat":/ { z = num($0) }
    /"seconds":/ { t = num($0) }
    /^\t"runs":/ { r = num($0) }
    /^\t"particles":/ { p = num($0) }
    END {
      printf "align %-7s trouser %.3f bag %.3f sneaker %.3f  in S %.3f", m, v[2], v[9], v[8], s
      if (z != "") printf "  log Z^ %.3f", z
      if (m == "das") printf "  (N = 16 x %d runs, %.1f s per sample)", r, t / (r * p)
      printf "\n"
    }' "$W.$m.json"
done | sed 's/^/das: /' >> "$OUT/summary.txt"
