#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Mutation testing for genmix (`make mutate`): apply each mutant of tools/mutants.txt, one at a time, to a
scratch copy of the tree, rebuild incrementally, and run the non-slow ctest suite (the mutant's module tests
first, then the rest, stopping at the first failure, with a per-test timeout; the test executables, the CLI, the
Python extension and the reward plugin those tests use are rebuilt). A mutant is KILLED when a
test fails, SURVIVES when every test passes. Prints the mutation score per module and overall; exits 1 if
a mutant is STALE (its original text is not found exactly once: the list must follow refactors), does not
compile, or the score of non-equivalent mutants is below --min-score (95 %).

    python3 tools/mutate.py [--list tools/mutants.txt] [--only ID,ID] [--module M] [--jobs 2]
                            [--keep DIR] [--min-score 95] [--check] [--baseline-all]

--check only validates the list (every original found exactly once), without building.
The list format is described at the top of tools/mutants.txt. Python 3 standard library only.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(path):
    """Returns (modules {name: test regex}, mutants [dict]) from the list file."""
    modules, mutants, cur = {}, [], None
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("module "):
                _, name, regex = line.split(None, 2)
                modules[name] = regex.strip()
            elif line.startswith("- "):
                cur["orig"] = line[2:]
            elif line.startswith("+ ") or line == "+":
                cur["repl"] = line[2:]
            elif line.startswith("= "):
                cur["equivalent"] = line[2:].strip()
            else:
                parts = line.split()
                if len(parts) != 3:
                    sys.exit("%s:%d: expected 'ID MODULE PATH', got %r" % (path, no, line))
                cur = {"id": parts[0], "module": parts[1], "path": parts[2], "line": no}
                mutants.append(cur)
    for m in mutants:
        if "orig" not in m or "repl" not in m:
            sys.exit("%s:%d: mutant %s needs a '- original' and a '+ replacement' line" % (path, m["line"], m["id"]))
        if m["module"] not in modules:
            sys.exit("%s:%d: mutant %s: unknown module %s" % (path, m["line"], m["id"], m["module"]))
    ids = [m["id"] for m in mutants]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit("duplicate mutant ids: %s" % ", ".join(sorted(dup)))
    return modules, mutants


def check(tree, m):
    """None if the mutant applies (original found exactly once), else the STALE reason."""
    p = os.path.join(tree, m["path"])
    if not os.path.isfile(p):
        return "file %s not found" % m["path"]
    n = open(p, encoding="utf-8").read().count(m["orig"])
    if n != 1:
        return "original text found %d times in %s" % (n, m["path"])
    return None


def run(cmd, cwd, timeout, log):
    with open(log, "a") as lf:
        lf.write("$ %s\n" % " ".join(cmd))
        lf.flush()
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=lf, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            lf.write("TIMEOUT after %ds\n" % timeout)
            return 124


def failed_test(log):
    """Name of the first failed test in the ctest output of this mutant (for the report)."""
    txt = open(log).read()
    hits = re.findall(r"\d+ - (\S+) \((?:Failed|Timeout|SEGFAULT|Subprocess aborted|Child aborted|Exception)", txt)
    if hits:
        return hits[0]
    hits = re.findall(r"Test +#\d+: (\S+) \.+\*+(?:Failed|Timeout)", txt)
    return hits[0] if hits else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", default=os.path.join(ROOT, "tools", "mutants.txt"))
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--module", help="only the mutants of this module")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", help="scratch directory to use and keep (default: a fresh /tmp dir, removed)")
    ap.add_argument("--min-score", type=float, default=95.0)
    ap.add_argument("--timeout", type=int, default=300, help="per-test timeout in seconds")
    ap.add_argument("--check", action="store_true", help="only validate the list against the tree")
    ap.add_argument("--baseline-all", action="store_true",
                    help="check the whole non-slow suite on the unmutated tree first (default: the modules' tests)")
    a = ap.parse_args()

    modules, mutants = parse(a.list)
    if a.only:
        want = set(a.only.split(","))
        mutants = [m for m in mutants if m["id"] in want]
    if a.module:
        mutants = [m for m in mutants if m["module"] == a.module]
    stale = [(m, r) for m in mutants for r in [check(ROOT, m)] if r]
    for m, r in stale:
        print("STALE %-6s %s: %s" % (m["id"], m["module"], r))
    if a.check:
        print("%d mutants, %d stale" % (len(mutants), len(stale)))
        return 1 if stale else 0
    live = [m for m in mutants if not any(m is s for s, _ in stale)]

    # scratch copy: the tracked and untracked (not ignored) files of the working tree
    t0 = time.time()
    scratch = a.keep or tempfile.mkdtemp(prefix="gm-mutate-")
    tree, build = os.path.join(scratch, "tree"), os.path.join(scratch, "build")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           stdout=subprocess.PIPE).stdout.decode().split("\0")
    for rel in filter(None, files):
        src, dst = os.path.join(ROOT, rel), os.path.join(tree, rel)
        if not os.path.isfile(src):
            continue
        if os.path.isfile(dst) and open(src, "rb").read() == open(dst, "rb").read():
            continue  # unchanged in a kept scratch dir: keep its mtime (no rebuild)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(src, dst)  # a fresh mtime: copy2 would keep the source's older one, and a file left
        # mutated by an interrupted run would then not be recompiled
    log = os.path.join(scratch, "mutate.log")
    open(log, "w").close()
    env_cmake = ["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=Release"]
    if run(env_cmake, tree, 600, log) or run(["cmake", "--build", build, "-j", str(a.jobs)], tree, 3600, log):
        sys.exit("the unmutated tree does not build; see %s" % log)
    print("scratch %s: baseline built in %.0fs" % (scratch, time.time() - t0), flush=True)
    ctest = ["ctest", "--test-dir", build, "-j", str(a.jobs), "-LE", "slow", "--stop-on-failure",
             "--timeout", str(a.timeout)]

    have_py = os.path.isfile(os.path.join(build, "python", "genmix", "_genmix.so"))
    if not have_py:
        print("note: the Python extension is not built (python3-dev/numpy missing): python mutants cannot be killed",
              flush=True)

    def targets(extra):
        """Build targets of the non-slow tests selected by `extra` (test executables, the CLI for cli_*)."""
        out = subprocess.run(ctest[:3] + ["-N", "-LE", "slow"] + extra, stdout=subprocess.PIPE).stdout.decode()
        names = re.findall(r"Test +#\d+: (\S+)", out)
        t = [n for n in names if n.startswith("test_")]
        if any(n.startswith("cli_") for n in names):
            t.append("genmix_cli")
        # the Python tests import BUILD/python/genmix/_genmix.so (python/genmix/*.c + the static library):
        # rebuild it, or a mutant of the binding (or of the library) would run against the unmutated extension
        if have_py and any(n.startswith("cli_python") for n in names):
            t.append("genmix_python")
        if any(n == "cli_align" for n in names):
            t.append("genmix_reward_test")  # the reward plugin cli_align.sh loads
        return t

    mod_targets = {mod: targets(["-R", rx]) for mod, rx in modules.items()}
    rest_targets = {mod: targets(["-E", rx]) for mod, rx in modules.items()}

    # The unmutated tree must pass the module tests of the selected mutants, or every mutant would be "killed"
    # by a test that fails anyway (e.g. a test that only works when BUILD = <tree>/build). With --baseline-all
    # the whole non-slow suite runs first: a test that fails unmutated is reported and left out of the
    # "rest" phase (it cannot kill anything); without it the rest of the suite is assumed green (`make test`).
    blog = os.path.join(scratch, "baseline.log")
    open(blog, "w").close()
    broken = []
    if a.baseline_all and live:
        run([c for c in ctest if c != "--stop-on-failure"], tree, 3600, blog)
        lf = os.path.join(build, "Testing", "Temporary", "LastTestsFailed.log")
        if os.path.isfile(lf):
            broken = [ln.strip().split(":", 1)[1] for ln in open(lf) if ":" in ln]
        for b in broken:
            print("note: %s fails on the unmutated tree: excluded from the rest phase" % b, flush=True)
    for rx in sorted({modules[m["module"]] for m in live}):
        bad = [b for b in broken if re.search(rx, b)]
        if bad or (not a.baseline_all and run(ctest + ["-R", rx], tree, 3600, blog)):
            sys.exit("the unmutated tree fails the tests %s (%s); see %s" % (rx, " ".join(bad) or failed_test(blog), blog))
    if live:
        print("baseline passes (%.0fs)" % (time.time() - t0), flush=True)
    skip_rx = "|^(%s)$" % "|".join(re.escape(b) for b in broken) if broken else ""

    results = []  # (mutant, status, detail, seconds)
    for m in live:
        t1 = time.time()
        path = os.path.join(tree, m["path"])
        orig = open(path, encoding="utf-8").read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig.replace(m["orig"], m["repl"], 1))
        mlog = os.path.join(scratch, "mutant_%s.log" % m["id"])
        open(mlog, "w").close()
        try:
            # the module's tests first (only their executables rebuilt), then the rest of the suite
            mod, rx = m["module"], modules[m["module"]]
            build_cmd = ["cmake", "--build", build, "-j", str(a.jobs), "--target"]
            if run(build_cmd + mod_targets[mod], tree, 1800, mlog):
                status, detail = "NOCOMPILE", "build failed"
            else:
                rc = run(ctest + ["-R", rx], tree, 3600, mlog)
                if rc == 0:
                    rc = run(build_cmd + rest_targets[mod], tree, 1800, mlog) or run(ctest + ["-E", "(%s)%s" % (rx, skip_rx)], tree, 3600, mlog)
                status = "KILLED" if rc else "SURVIVED"
                detail = failed_test(mlog) if rc else ""
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig)
        if status == "SURVIVED" and "equivalent" in m:
            status, detail = "EQUIV", m["equivalent"]
        dt = time.time() - t1
        results.append((m, status, detail, dt))
        print("%-9s %-6s %-7s %-28s %5.0fs  %s" % (status, m["id"], m["module"], m["path"], dt, detail), flush=True)

    # scores per module: killed / non-equivalent (compiled) mutants
    print("\nmodule   killed / non-equivalent   score   (equivalent, survived ids)")
    tot_k = tot_n = 0
    for mod in modules:
        rs = [r for r in results if r[0]["module"] == mod]
        k = sum(r[1] == "KILLED" for r in rs)
        n = sum(r[1] in ("KILLED", "SURVIVED") for r in rs)
        eq = sum(r[1] == "EQUIV" for r in rs)
        surv = [r[0]["id"] for r in rs if r[1] == "SURVIVED"]
        tot_k, tot_n = tot_k + k, tot_n + n
        if rs:
            print("%-8s %6d / %-6d %17s   (%d, %s)" % (mod, k, n, "%.1f %%" % (100.0 * k / n) if n else "-", eq,
                                                      " ".join(surv) or "-"))
    score = 100.0 * tot_k / tot_n if tot_n else 0.0
    nocomp = [r[0]["id"] for r in results if r[1] == "NOCOMPILE"]
    print("total    %6d / %-6d %15.1f %%   stale %d, not compiling %d%s; %.1f min" % (
        tot_k, tot_n, score, len(stale), len(nocomp), (" (" + " ".join(nocomp) + ")") if nocomp else "",
        (time.time() - t0) / 60))
    if not a.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if stale or nocomp or score < a.min_score else 0


if __name__ == "__main__":
    sys.exit(main())
