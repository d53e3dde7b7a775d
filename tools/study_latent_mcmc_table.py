#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Assemble the latent MCMC study's summary table (markdown) from the JSON files written by
tools/study_latent_mcmc.sh: <out>/<model>/latent.json (genmix latent-study) and, when present,
<out>/<model>/eval.json (genmix eval) and <out>/sanity.json.  Usage: study_latent_mcmc_table.py OUT MODEL..."""
import json
import os
import sys

out, models = sys.argv[1], sys.argv[2:]
print("| model | T | KID | FD | precision | recall | density | coverage | latent MMD² | classes ≥5% | KL(classes‖uniform) | NN-train dist | frac < test p5 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    lp = os.path.join(out, m, "latent.json")
    if not os.path.exists(lp):
        continue
    lat = json.load(open(lp))
    ev = {}
    ep = os.path.join(out, m, "eval.json")
    if os.path.exists(ep):
        for r in json.load(open(ep))["results"]:
            t = int(os.path.basename(r["fake"])[3:-4])  # f_t<T>.npy
            ev[t] = r["metrics"]
    for s in lat["steps"]:
        e = ev.get(s["t"])
        f = lambda v: "%.4g" % v
        cols = [m, str(s["t"])]
        if e:
            cols += [f(e["kid"]["mean"]) + " ± " + f(e["kid"]["std"]), f(e["fd"]["value"]), f(e["prc"]["precision"]),
                     f(e["prc"]["recall"]), f(e["prdc"]["density"]), f(e["prdc"]["coverage"])]
        else:
            cols += ["–"] * 6
        cols += [f(s["mmd2"]), str(s.get("classes_ge5", "–")), f(s.get("class_kl_uniform", float("nan"))),
                 f(s["nn_dist"]), f(s["frac_below_test_p5"])]
        print("| " + " | ".join(cols) + " |")
    print("| %s baselines | | | | | | | | prior %.4g, train-enc floor %.4g | | | test→train %.4g | 0.05 |" % (
        m, lat["mmd2_prior_vs_test"], lat["mmd2_train_vs_test"], lat["test_nn_dist"]))
sp = os.path.join(out, "sanity.json")
if os.path.exists(sp):
    r = json.load(open(sp))["results"]
    print("\nSanity check (KID in the classifier's feature space, genmix eval's units, against the test set): uniform noise %.4g ± %.4g, "
          "%s samples (T = 0) %.4g ± %.4g." % (r[0]["metrics"]["kid"]["mean"], r[0]["metrics"]["kid"]["std"], models[0],
                                              r[1]["metrics"]["kid"]["mean"], r[1]["metrics"]["kid"]["std"]))
