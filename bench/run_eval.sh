#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run_eval.sh — genmix eval vs NumPy/SciPy/scikit-learn references in the same run, on synthetic
# features (10000 x 2048 float32 by default; N and D from the environment). Called by `make bench` with
# BUILD=<build dir>. Prints every measurement, then the ratios and the acceptance checks.
# PRDC 50000 x 2048 peak RSS is measured with /usr/bin/time unless BIG=0.
set -euo pipefail
BUILD=${BUILD:-build}
N=${N:-10000}
D=${D:-2048}
BIG=${BIG:-1}
BIN="$BUILD/bench/bench_eval"
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "# genmix eval benchmark: N=$N D=$D, $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" data "$TMP" "$N" "$D"
"$BIN" run "$TMP" "$N" "$D" | tee "$TMP/genmix.txt"
"$PY" tools/ref_eval_bench.py "$TMP" "$N" "$D" | tee "$TMP/ref.txt"
if [ "$BIG" = 1 ] && [ -x /usr/bin/time ]; then
  /usr/bin/time -v "$BIN" prdc 50000 "$D" 2> "$TMP/time.txt" | tee "$TMP/big.txt"
  awk -F': ' '/Maximum resident set size/ {printf "prdc_big_peak_rss_gib %.3f\n", $2/1048576}' "$TMP/time.txt" | tee -a "$TMP/big.txt"
else
  touch "$TMP/big.txt"
fi
cat "$TMP/genmix.txt" "$TMP/ref.txt" "$TMP/big.txt" | "$PY" -c '
import sys
v = {}
for line in sys.stdin:
    p = line.split()
    if len(p) >= 2:
        try: v[p[0]] = float(p[1])
        except ValueError: pass
def chk(name, ok): print("%-58s %s" % (name, "PASS" if ok else "FAIL"))
print("\n# ratios (reference time / genmix time, same run)")
rate = 0.5 * (v["sgemm_gflops"] + v.get("sgemm_gflops_after", v["sgemm_gflops"]))
gemm_s = v["prdc_gemm_gflop"] / rate
print("SGEMM rate %.1f GFLOP/s before PRDC, %.1f after (a large difference means the load changed)"
      % (v["sgemm_gflops"], v.get("sgemm_gflops_after", float("nan"))))
print("PRDC genmix %.2f s; its GEMM flops (%.0f GFLOP, symmetric tiles) at the SGEMM rate %.1f GFLOP/s need %.2f s -> %.2fx"
      % (v["prdc_s"], v["prdc_gemm_gflop"], rate, gemm_s, v["prdc_s"] / gemm_s))
print("PRDC sklearn (clovaai) %.2f s -> %.2fx;  NumPy BLAS %.2f s -> %.2fx"
      % (v.get("ref_prdc_sklearn_s", float("nan")), v.get("ref_prdc_sklearn_s", float("nan")) / v["prdc_s"],
         v["ref_prdc_numpy_s"], v["ref_prdc_numpy_s"] / v["prdc_s"]))
fd = v["fd_stats_s"] + v["fd_sqrt_s"]
print("FD genmix %.2f s (stats %.2f + trace-sqrt %.2f) vs np.cov + sqrtm %.2f s -> %.2fx; trace-sqrt alone vs sqrtm %.2f s -> %.2fx"
      % (fd, v["fd_stats_s"], v["fd_sqrt_s"], v["ref_fd_s"], v["ref_fd_s"] / fd, v["ref_fd_sqrtm_s"],
         v["ref_fd_sqrtm_s"] / v["fd_sqrt_s"]))
print("PRDC vs the 4*n^2*d minimum (%.0f GFLOP) at the SGEMM rate: %.2fx" % (v["prdc_min_gemm_gflop"], v["prdc_s"] / (v["prdc_min_gemm_gflop"] / rate)))
print("KID float64 genmix %.2f s vs NumPy %.2f s -> %.2fx" % (v["kid_s"], v["ref_kid_s"], v["ref_kid_s"] / v["kid_s"]))
drate = 0.5 * (v["dgemm_gflops"] + v.get("dgemm_gflops_after", v["dgemm_gflops"]))
kmin = v["kid_gemm_gflop"] / drate
print("KID DGEMM bound: %.0f GFLOP (SYRK+SYRK+GEMM per subset) at %.1f GFLOP/s (before %.1f, after %.1f) = %.2f s;"
      " genmix %.2fx the bound, the NumPy reference %.2fx -> at most %.2fx faster than NumPy with float64 GEMM"
      % (v["kid_gemm_gflop"], drate, v["dgemm_gflops"], v.get("dgemm_gflops_after", float("nan")), kmin,
         v["kid_s"] / kmin, v["ref_kid_s"] / kmin, v["ref_kid_s"] / kmin))
print("FD values %.12g / %.12g (rel %.1e); KID %.12g / %.12g (rel %.1e)" % (v["fd_value"], v["ref_fd_value"],
      abs(v["fd_value"] / v["ref_fd_value"] - 1), v["kid_value"], v["ref_kid_value"], abs(v["kid_value"] / v["ref_kid_value"] - 1)))
print("\n# acceptance targets")
chk("PRDC within 1.3x of its GEMM time at the SGEMM rate", v["prdc_s"] <= 1.3 * gemm_s)
if "ref_prdc_sklearn_s" in v: chk("PRDC >= 2.5x faster than the scikit-learn reference", v["ref_prdc_sklearn_s"] >= 2.5 * v["prdc_s"])
chk("PRDC >= 1.5x faster than the plain NumPy reference", v["ref_prdc_numpy_s"] >= 1.5 * v["prdc_s"])
chk("FD (d=%d) >= 3x faster than the np.cov + sqrtm path" % int(v.get("dim", 2048)), v["ref_fd_s"] >= 3 * fd)
chk("KID (float64) >= 5x faster", v["ref_kid_s"] >= 5 * v["kid_s"])
if "prdc_big_peak_rss_gib" in v: chk("PRDC 50000 x D peak RSS < 3 GiB (%.2f GiB, %.1f s)" % (v["prdc_big_peak_rss_gib"], v["prdc_big_s"]), v["prdc_big_peak_rss_gib"] < 3)
'
