#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# das_pool_runs.py — re-pool the runs of a `genmix align --runs K --eval-clf EVAL --out DIR --json` result
# two ways and print both class histograms of the independent classifier:
#   uniform : mean over runs of each run's self-normalised histogram (what `genmix align` reports);
#   Z-pooled: runs weighted by their evidence estimate Ẑ_k (sum_k Ẑ_k h_k / sum_k Ẑ_k), the estimator
#             that is consistent as K -> inf at fixed N (Ẑ_k h_k is unbiased for Z E_tar[h]).
# The eval classifier's class of each sample is recomputed from DIR/eval_features.npy (its penultimate
# ReLU features) and its last linear layer ("11.weight", "11.bias"); the uniform pooling is checked against
# the JSON's class_hist. Note: eval_features.npy is of the pixels clamped to [0, 1], the JSON's histogram
# of the unclamped ones, so the two can differ by a few samples. SEs: run-to-run (uniform) and the delta method
# of the ratio estimator (Z-pooled). The layer names fit the classifier of `genmix train classifier`'s default spec.
# Usage: python3 tools/das_pool_runs.py RESULT.json DIR EVAL.safetensors [ORACLE.json]
import array, json, math, re, struct, sys

names = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def safetensors(path):  # F32 tensors -> (shape, flat list)
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        s, e = v["data_offsets"]
        a = array.array("f")
        a.frombytes(b[8 + n + s:8 + n + e])
        out[k] = (v["shape"], a)
    return out


def npy(path):  # little-endian float32/float64 .npy -> (shape, flat list)
    b = open(path, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0] if b[6] == 1 else struct.unpack("<I", b[8:12])[0]
    off = (10 if b[6] == 1 else 12) + hl
    hdr = b[off - hl:off].decode("latin1")
    shape = tuple(int(x) for x in re.search(r"\(([^)]*)\)", hdr).group(1).split(",") if x.strip())
    a = array.array("d" if "<f8" in hdr else "f")
    a.frombytes(b[off:])
    return shape, a


def main():
    j = json.load(open(sys.argv[1]))
    d = sys.argv[2]
    w = safetensors(sys.argv[3])
    (fn, fd), F = npy(d + "/eval_features.npy")
    W = npy(d + "/weights.npy")[1]
    K, N = j["runs"], j["particles"]
    (_, wd), Wl = w["11.weight"]
    bl = w["11.bias"][1]
    lab = []
    for i in range(fn):
        f = F[i * fd:(i + 1) * fd]
        z = [bl[c] + sum(Wl[c * wd + q] * f[q] for q in range(fd)) for c in range(10)]
        lab.append(max(range(10), key=lambda c: z[c]))
    H = [[0.0] * 10 for _ in range(K)]
    for k in range(K):  # weights.npy holds W/K (pooled); each run's row is renormalised
        t = sum(W[k * N:(k + 1) * N])
        for i in range(N):
            H[k][lab[k * N + i]] += W[k * N + i] / t
    lz = [r["log_z"] for r in j["run"]]
    u = [sum(H[k][c] for k in range(K)) / K for c in range(10)]
    use = [math.sqrt(sum((H[k][c] - u[c]) ** 2 for k in range(K)) / (K - 1) / K) if K > 1 else float("nan") for c in range(10)]
    chk = max(abs(u[c] - j["eval"]["class_hist"][c]) for c in range(10))
    m = max(lz)
    z = [math.exp(x - m) for x in lz]
    p = [x / sum(z) for x in z]
    zp = [sum(p[k] * H[k][c] for k in range(K)) for c in range(10)]
    zse = [math.sqrt(sum(p[k] ** 2 * (H[k][c] - zp[c]) ** 2 for k in range(K))) for c in range(10)]  # delta method
    ess = 1.0 / sum(x * x for x in p)
    S = [1, 8, 7]
    o = json.load(open(sys.argv[4]))["eval"]["class_hist"] if len(sys.argv) > 4 else None
    print("runs %d x %d particles; uniform pooling vs JSON class_hist (unclamped pixels): max diff %.2g; runs' ESS under Z-pooling %.1f" % (K, N, chk, ess))
    for tag, h, se in (("uniform", u, use), ("Z-pooled", zp, zse)):
        line = "%-9s " % tag + "  ".join("%s %.3f±%.3f" % (names[c], h[c], se[c]) for c in S)
        line += "  in S %.3f" % sum(h[c] for c in S)
        if o is not None:
            dd = [abs(h[c] - o[c]) for c in range(10)]
            c = max(range(10), key=lambda c: dd[c])
            line += "  max|Δ| vs oracle %.3f (%s)" % (dd[c], names[c])
        print(line)


if __name__ == "__main__":
    main()
