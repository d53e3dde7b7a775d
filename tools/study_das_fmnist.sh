#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# study_das_fmnist.sh — the Fashion-MNIST part of the DAS study (spec das.md §8, docs/das.md): a trained
# U-Net, the reward r = log sum_{c in S} p(c|x) of one classifier (S = trouser, bag, sneaker) and an
# INDEPENDENT classifier (same CNN, another seed) that scores every output:
#   1. M base samples of the model (drawn once, in two parallel halves), then on those same samples:
#      the base histogram, the reweighting oracle (SIR, weights exp(r/alpha)) and best-of-N (N' = 3N);
#   2. DAS (N = 16, alpha = 1, full gradients, exp tempering, ssp) over K runs, plain guidance over KG runs;
#   3. an alpha sweep with r = log p(c|x) for one class c (DAS, --output resample, KS runs per alpha; the
#      base samples are alpha = inf): E[log p_eval(c|x)], Vendi and RKE of the independent classifier's
#      features, the oracle's log Z vs DAS's log mean Ẑ;
#   4. time per sample (process CPU seconds and wall seconds) of every method.
# Writes $OUT (default results/study_das_fmnist): one folder per run (samples, weights, summary.json,
# grid.png, eval_features.npy), times.tsv, hist.tsv, sweep.tsv, and prints the tables.
# Usage: bash tools/study_das_fmnist.sh [build/genmix]
#   env: MODEL (U-Net checkpoint, default cache/demo_ddpm_unet8.safetensors, the model of `make demo`),
#   CLF (reward classifier, default cache/clf.safetensors, the demo's), EVAL (independent classifier, default
#   cache/evalclf_s2.safetensors); missing ones are trained here as the demo trains them (U-Net C = 8, 1500
#   steps: ~7 CPU minutes; classifiers --seed 1, 6 epochs / --seed 2, 3 epochs: ~5 / ~3 CPU minutes).
#   Sizes: M (1600), K (32), KG (4), KS (8), GRAD_SWEEP (full; x0only is 3x cheaper and valid by spec T4, but at
#   N = 16 its proposal is so poor that the sweep's histograms and log Ẑ are off, see docs/das.md), SWEEP_CLASS (bag),
#   JOBS (2), FD (1: U-Net vs VAE FD).
# Cost (2-core machine shared with other jobs, C = 16 U-Net): a base sample is ~0.34 s of CPU, a DAS
# particle with full gradients ~1.1 s (C = 8: 0.15 s and 0.46 s); the defaults on the C = 8 model are ~15 CPU
# minutes (docs/das.md).
set -euo pipefail
G=$(realpath "${1:-build/genmix}")
MODEL=${MODEL:-cache/demo_ddpm_unet8.safetensors}
CLF=${CLF:-cache/clf.safetensors}
EVAL=${EVAL:-cache/evalclf_s2.safetensors}
M=${M:-1600} K=${K:-32} KG=${KG:-4} KS=${KS:-8} GRAD_SWEEP=${GRAD_SWEEP:-full} N=16 S=${S:-100} JOBS=${JOBS:-2}
C=${SWEEP_CLASS:-bag}
OUT=${OUT:-results/study_das_fmnist}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=passive
mkdir -p "$OUT"
mkdir -p "$(dirname "$MODEL")" "$(dirname "$CLF")" "$(dirname "$EVAL")"
[ -f "$MODEL" ] || "$G" --quiet train ddpm --data fashion-mnist --channels 8 --steps 1500 --lr 1e-3 --ema 0.995 \
  --every 250 --seed 1 --out "$MODEL" >&2
[ -f "$CLF" ] || "$G" --quiet train classifier --data fashion-mnist --seed 1 --out "$CLF" >&2
if [ ! -f "$EVAL" ]; then
  "$G" --quiet train classifier --data fashion-mnist --seed 2 --epochs 3 --out "$EVAL" --json "${EVAL%.safetensors}.json" >&2
fi
SET=trouser,bag,sneaker
RS="classifier:$CLF:$SET"
RC="classifier:$CLF:$C"
A=("$G" --quiet align --model "$MODEL" --steps $S --eval-clf "$EVAL" --json)
touch "$OUT/times.tsv"  # appended to: a resumed study keeps the earlier jobs' times

# job NAME ARGS...: one align run in the background (at most JOBS at once), JSON to $OUT/NAME.json,
# files to $OUT/NAME/, process CPU and wall seconds to times.tsv
# A job whose JSON is already there is not run again (a resumed study); names in SKIP are being run by
# another invocation: wait_done waits for their JSON before the second phase.
job() {
  local name=$1; shift
  [ -s "$OUT/$name.json" ] && return 0
  case " ${SKIP:-} " in *" $name "*) return 0 ;; esac
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  ( /usr/bin/time -f "$name\t%U\t%e" -a -o "$OUT/times.tsv" nice -n 5 "${A[@]}" --out "$OUT/$name" "$@" \
      > "$OUT/$name.json" ) &
}

# 1. base samples (two halves, independent seeds), DAS, guidance, the sweep
h=$(( M / 2 ))
job base_a --reward "$RS" --alpha 1 --method base --particles $h --seed 1001
job das --reward "$RS" --alpha 1 --particles $N --runs $K --seed 1
job base_b --reward "$RS" --alpha 1 --method base --particles $(( M - h )) --seed 1002
job guidance --reward "$RS" --alpha 1 --particles $N --runs $KG --method guidance --seed 501
# DAS with N = 64 (two halves of 4 runs)
job das64_101 --reward "$RS" --alpha 1 --particles 64 --runs 4 --seed 101
job das64_201 --reward "$RS" --alpha 1 --particles 64 --runs 4 --seed 201
for a in 10 3 1 0.3 0.1; do
  job sweep_$a --reward "$RC" --alpha $a --particles $N --runs $KS --output resample --grad "$GRAD_SWEEP" --seed 2001
done
wait
for name in ${SKIP:-}; do while [ ! -s "$OUT/$name.json" ]; do sleep 10; done; done
B="$OUT/base_a/samples.npy,$OUT/base_b/samples.npy"
job base --reward "$RS" --alpha 1 --method base --particles $M --base-samples "$B"
job oracle --reward "$RS" --alpha 1 --method oracle --particles $M --base-samples "$B"
job bestofn --reward "$RS" --alpha 1 --method best-of-n --particles $(( 3 * N )) --runs $(( M / (3 * N) )) --base-samples "$B"
job sweep_base --reward "$RC" --alpha 1 --method base --particles $M --base-samples "$B"
job sweep_base_n --reward "$RC" --alpha 1 --method base --particles $(( KS * N )) --base-samples "$B"  # diversity at the sweep's count
for a in 10 3 1 0.3 0.1; do
  job sweep_oracle_$a --reward "$RC" --alpha $a --method oracle --particles $M --base-samples "$B"
done
wait

# diversity of the sweep (equal-weight draws; the base samples for alpha = inf) in the independent
# classifier's features: Vendi (cosine) and RKE (Gaussian kernel, sigma RKE_SIGMA, default 14: the median
# pairwise distance of base features); the base row uses the first KS*N base samples (the same count)
for a in base 10 3 1 0.3 0.1; do
  d=$OUT/sweep_$a; [ "$a" = base ] && d=$OUT/sweep_base_n
  nice -n 5 "$G" --quiet eval --real "$d/eval_features.npy" --fake "$d/eval_features.npy" --metrics vendi,rke \
    --rke-sigma "${RKE_SIGMA:-14}" --json "$d/diversity.json" > /dev/null
done

# sample quality of the U-Net beside the demo's VAE (FD=1): FD and KID in the features of the reward
# classifier (the demo's feature space) against the 10,000 test images, both with the M base samples' count
if [ "${FD:-1}" = 1 ]; then
  F=$OUT/fd; mkdir -p "$F"; D=${CACHE:-cache}/fashion-mnist
  [ -s "$D/test_images.npy" ] || "$G" data fashion-mnist --out "$D" > /dev/null
  [ -s "$F/real.npy" ] || "$G" --quiet features --model "$CLF" --in "$D/test_images.npy" --out "$F/real.npy" > /dev/null
  "${A[@]}" --reward "$RS" --alpha 1 --method base --particles $M --base-samples "$B" --eval-clf "$CLF" --out "$F/unet" > /dev/null
  VAE=${CACHE:-cache}/demo_vae_d16.safetensors
  [ -f "$VAE" ] || "$G" --quiet train vae --data fashion-mnist --latent 16 --hidden 256,128 --epochs 2 \
    --limit 20000 --lr 1e-3 --beta1 0.9 --seed 1 --out "$VAE" > /dev/null
  [ -s "$F/vae_img.npy" ] || "$G" --quiet sample --model "$VAE" --n $M --seed 2 --out "$F/vae_img.npy" > /dev/null
  [ -s "$F/vae.npy" ] || "$G" --quiet features --model "$CLF" --in "$F/vae_img.npy" --out "$F/vae.npy" > /dev/null
  "$G" --quiet eval --real "$F/real.npy" --fake "$F/unet/eval_features.npy" --fake "$F/vae.npy" --metrics fd,kid \
    --seed 1 > "$F/eval.txt"
  cat "$F/eval.txt"
fi

/usr/bin/python3 - "$OUT" "$M" "$N" <<'EOF'
import json, sys, os
out, M, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
S = [1, 8, 7]
J = lambda n: json.load(open(os.path.join(out, n + ".json")))
def unique_frac(path):  # distinct rows of a float32 n x 784 .npy (resampling duplicates)
    b = open(path, "rb").read()
    hl = int.from_bytes(b[8:10], "little") if b[6] == 1 else int.from_bytes(b[8:12], "little")
    off = (10 if b[6] == 1 else 12) + hl
    rows = [b[i:i + 784 * 4] for i in range(off, len(b), 784 * 4)]
    return len(set(rows)) / len(rows)
times = {}
for line in open(os.path.join(out, "times.tsv")):
    p = line.split()
    if len(p) == 3: times[p[0]] = (float(p[1]), float(p[2]))
def per_sample(name, j):
    n = j["runs"] * j["particles"]
    cpu, wall = times.get(name, (float("nan"), float("nan")))
    return cpu / n, wall / n
# per-sample cost of the base sampler (both halves) for the base-sample methods
bcpu = sum(times[k][0] for k in ("base_a", "base_b") if k in times) / M
bwall = sum(times[k][1] for k in ("base_a", "base_b") if k in times) / M
with open(os.path.join(out, "hist.tsv"), "w") as f:
    f.write("method\truns\tsamples\t" + "\t".join(names) + "\tin_S\tin_S_se\tmax_abs_diff_vs_oracle\tE_r\tlog_mean_zhat\tcpu_s_per_sample\twall_s_per_sample\n")
    orc = J("oracle")["eval"]["class_hist"]
    for m in ("base", "oracle", "das", "guidance", "bestofn"):
        j = J(m); e = j["eval"]; h = e["class_hist"]
        if m in ("base", "oracle"): cpu, wall = bcpu, bwall
        elif m == "bestofn": cpu, wall = 3 * N * bcpu, 3 * N * bwall
        else: cpu, wall = per_sample(m, j)
        n = j["runs"] * (1 if m == "bestofn" else j["particles"])
        d = max(abs(h[c] - orc[c]) for c in range(10))
        f.write("%s\t%d\t%d\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%s\t%.2f\t%.2f\n" % (m, j["runs"], n, "\t".join("%.4f" % x for x in h),
                e["in_set"], e["in_set_se"], d, j["mean_reward"], "%.4f" % j["log_mean_zhat"] if "log_mean_zhat" in j else "-", cpu, wall))
    # DAS N = 64: the two halves combined (means averaged, SEs combined)
    a, b = J("das64_101"), J("das64_201")
    ea, eb = a["eval"], b["eval"]
    h = [(x + y) / 2 for x, y in zip(ea["class_hist"], eb["class_hist"])]
    d = max(abs(h[c] - orc[c]) for c in range(10))
    ins, inse = (ea["in_set"] + eb["in_set"]) / 2, (ea["in_set_se"] ** 2 + eb["in_set_se"] ** 2) ** 0.5 / 2
    lz = [r["log_z"] for j in (a, b) for r in j["run"]]
    mx = max(lz)
    import math
    lme = mx + math.log(sum(math.exp(x - mx) for x in lz) / len(lz))
    cpu = (times.get("das64_101", (0, 0))[0] + times.get("das64_201", (0, 0))[0]) / 512
    wall = (times.get("das64_101", (0, 0))[1] + times.get("das64_201", (0, 0))[1]) / 512
    f.write("das64\t8\t512\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%.2f\n" % ("\t".join("%.4f" % x for x in h), ins, inse, d,
            (a["mean_reward"] + b["mean_reward"]) / 2, lme, cpu, wall))
with open(os.path.join(out, "hist_se.tsv"), "w") as f:
    f.write("method\t" + "\t".join(names[c] + "_se" for c in S) + "\n")
    for m in ("das", "oracle", "guidance", "bestofn"):
        e = J(m)["eval"]
        f.write("%s\t%s\n" % (m, "\t".join("%.4f" % e["class_hist_se"][c] for c in S)))
with open(os.path.join(out, "sweep.tsv"), "w") as f:
    f.write("alpha\tE_log_p_eval_c\tse\tp_eval_c_hist\toracle_E_log_p_eval_c\tvendi\trke\tunique_frac\tlog_mean_zhat\tlog_z_sd\toracle_log_z\n")
    for a in ("base", "10", "3", "1", "0.3", "0.1"):
        j = J("sweep_" + a); e = j["eval"]
        c = e["set"].index(1)
        dv = json.load(open(os.path.join(out, "sweep_" + ("base_n" if a == "base" else a), "diversity.json")))["results"][0]["metrics"]
        vendi, rke = dv["vendi"]["value"], dv["rke"][0]["mode_count"]
        # unique rows among the draws (resampling duplicates)
        uf = unique_frac(os.path.join(out, "sweep_" + a, "samples.npy"))
        if a == "base": lz, lsd, olz, oe = "-", "-", "-", "-"
        else:
            o = J("sweep_oracle_" + a)
            lz = "%.4f" % j["log_mean_zhat"]; lsd = "%.4f" % j["log_z_sd"]; olz = "%.4f" % o["log_mean_zhat"]
            oe = "%.4f" % o["eval"]["log_p_set"]
        f.write("%s\t%.4f\t%.4f\t%.4f\t%s\t%.3f\t%.2f\t%.3f\t%s\t%s\t%s\n" % ("inf" if a == "base" else a, e["log_p_set"], e["log_p_set_se"],
                e["class_hist"][c], oe, vendi, rke, uf, lz, lsd, olz))
EOF
column -t -s $'\t' "$OUT/hist.tsv"
column -t -s $'\t' "$OUT/hist_se.tsv"
column -t -s $'\t' "$OUT/sweep.tsv"
