#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_layers.py — genmix's module layering check (docs/design.md, "Module map").

Usage: python3 tools/check_layers.py [ROOT [ALLOWLIST]]
  ROOT defaults to the repository root, ALLOWLIST to ROOT/tools/layers_allow.txt (may be absent).
Exit 0 when every include follows the rules (or is allowlisted), 1 with one line per violation.

Rules, for every #include "..." in src/<module>/*.{c,h}, include/genmix/*.h and cli/*.{c,h}:
  1. levels: core 0 <- io, linalg 1 <- nn 2 <- eval 3 <- methods 4 (mix, moe, latent, plot, prdiv, diffusion)
     <- smc 5 (DAS drives the diffusion samplers). A module may include its own headers and those of lower levels only (two methods may not
     include each other; what they share belongs lower down).
  2. a *_internal.h header (found by name under src/*/) is included only from its own folder;
  3. cli/ includes only include/genmix/*.h and cli/*.h;
  4. every public header include/genmix/<h>.h belongs to a known module (map below);
  5. the alphabetically first .c file of each src/<module>/ folder has a "module:" paragraph in its
     header comment saying what the folder owns.
Allowlist lines are "<file> <included header>" (paths relative to ROOT), '#' starts a comment."""
import os, re, sys

# smc sits above diffusion: DAS (smc_das.c) drives the diffusion samplers. "umbrella" is genmix/genmix.h,
# which includes every module and may be included by no module.
LEVEL = {"core": 0, "io": 1, "linalg": 1, "nn": 2, "eval": 3,
         "mix": 4, "moe": 4, "latent": 4, "plot": 4, "prdiv": 4, "diffusion": 4, "smc": 5, "umbrella": 99}
PUBLIC = {"base": "core", "tensor": "core", "rng": "core", "hash": "core", "fileio": "core", "io": "io", "linalg": "linalg",
          "nn": "nn", "tape": "nn", "optim": "nn", "models": "nn", "eval": "eval", "mix": "mix",
          "moe": "moe", "mcmc": "latent", "ae": "latent", "classifier": "latent", "plot": "plot",
          "prdiv": "prdiv", "diffusion": "diffusion", "smc": "smc", "das": "smc", "genmix": "umbrella"}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    allow_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "tools", "layers_allow.txt")
    allow = set()
    if os.path.exists(allow_path):
        for line in open(allow_path):
            f = line.split("#", 1)[0].split()
            if len(f) == 2:
                allow.add((f[0], f[1]))
    src = os.path.join(root, "src")
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))) if os.path.isdir(src) else []
    private = {}  # header name -> module folder
    for m in folders:
        for f in os.listdir(os.path.join(src, m)):
            if f.endswith(".h"):
                private[f] = m
    bad, used = [], set()

    def report(rel, hdr, why):
        if (rel, hdr) in allow:
            used.add((rel, hdr))
        else:
            bad.append("%s: includes \"%s\": %s" % (rel, hdr, why))

    def check_file(path, mod):  # mod: module name, or None for cli/
        rel = os.path.relpath(path, root)
        for hdr in INC.findall(open(path, errors="replace").read()):
            if hdr.startswith("genmix/"):
                name = hdr[len("genmix/"):-2]
                dep = PUBLIC.get(name)
                if dep is None:
                    report(rel, hdr, "public header of no known module (add it to the map in tools/check_layers.py)")
                    continue
            elif mod is None:
                if not os.path.exists(os.path.join(root, "cli", hdr)):
                    report(rel, hdr, "cli/ may include only include/genmix/*.h and cli/*.h")
                continue
            elif hdr in private:
                dep = private[hdr]
                if hdr.endswith("_internal.h") and dep != mod:
                    report(rel, hdr, "%s is private to src/%s/" % (hdr, dep))
                    continue
            else:
                continue  # a header next to the file that is not under src/ (generated), or a system one
            if mod is None or dep == mod:
                continue
            if dep not in LEVEL:
                report(rel, hdr, "module %s has no level" % dep)
            elif mod not in LEVEL:
                report(rel, hdr, "module %s has no level (add it to tools/check_layers.py)" % mod)
            elif LEVEL[dep] >= LEVEL[mod]:
                report(rel, hdr, "%s (level %d) may not depend on %s (level %d)" % (mod, LEVEL[mod], dep, LEVEL[dep]))

    for m in folders:
        files = sorted(os.listdir(os.path.join(src, m)))
        for f in files:
            if f.endswith((".c", ".h")):
                check_file(os.path.join(src, m, f), m)
        cfiles = [f for f in files if f.endswith(".c")]
        if cfiles:
            text = open(os.path.join(src, m, cfiles[0]), errors="replace").read()
            text = re.sub(r"\A/\*\s*SPDX-License-Identifier:[^*]*\*/\s*", "", text)  # the licence line first
            head = text.split("*/", 1)[0]
            if not re.search(r"\bmodule:", head):
                bad.append("src/%s/%s: first file of the folder has no \"module:\" paragraph in its header comment"
                           % (m, cfiles[0]))
    inc = os.path.join(root, "include", "genmix")
    if os.path.isdir(inc):
        for f in sorted(os.listdir(inc)):
            if f.endswith(".h"):
                mod = PUBLIC.get(f[:-2])
                if mod is None:
                    bad.append("include/genmix/%s: public header of no known module" % f)
                else:
                    check_file(os.path.join(inc, f), mod)
    cli = os.path.join(root, "cli")
    if os.path.isdir(cli):
        for f in sorted(os.listdir(cli)):
            if f.endswith((".c", ".h")):
                check_file(os.path.join(cli, f), None)
    for line in bad:
        print("layering: " + line)
    for a in sorted(allow - used):
        print("layering: note: allowlisted %s %s is no longer needed (remove it from the allowlist)" % a)
    if bad:
        return 1
    print("layering: ok (%d module folders, %d allowlisted)" % (len(folders), len(used)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
