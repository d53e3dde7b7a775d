#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""docs_check.py — runs every example of README.md and docs/*.md and compares its output with the text
the document shows.

An example is a line starting with "$ " inside a ``` block (a trailing backslash continues it on the
next line); the lines after it, up to the next "$ " line or the end of the block, are its documented
output. A line starting with "..." stands for any number of lines. Each documented line must appear in the output,
in order (stdout first; a line not on stdout may be on stderr), numbers equal to a relative 1e-6, after
normalising what legitimately varies between runs: durations ("0.17 s", "410.8 s training"), throughput ("images/s 838"), thread
counts. `cd DIR` changes the folder of the following examples of the same file.

A block right after an HTML comment `<!-- docs-check: skip REASON -->` is not run (e.g. a full
Fashion-MNIST training run); such blocks are listed with their reason, so nothing is skipped silently.
Examples run in a scratch folder holding the repository's examples/, tests/, tools/ and a copy of docs/,
with BUILD_DIR (the genmix binary's folder) first on PATH, as the README tells a new user.

Usage: tools/docs_check.py BUILD_DIR [FILE.md ...]     exit 1 when an example's output differs.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120


def normalise(line):
    line = line.rstrip()
    line = re.sub(r"\b\d+(\.\d+)? ?s\b(?! ?/)", "N s", line)  # durations (not "images/s")
    line = re.sub(r"images/s \d+", "images/s N", line)
    line = re.sub(r"threads \d+", "threads N", line)
    line = re.sub(r'"(total_s|train_seconds|seconds|[a-z_]*_s)": ?[0-9.e+-]+', r'"\1": N', line)
    return line


def examples(path):
    """Yields (line number, command, [documented lines], skip reason or None)."""
    lines = open(path).read().split("\n")
    i, skip_next = 0, None
    while i < len(lines):
        m = re.match(r"\s*<!--\s*docs-check:\s*skip\s*(.*?)\s*-->", lines[i])
        if m:
            skip_next = m.group(1) or "no reason given"
        if lines[i].startswith("```"):
            i += 1
            block_skip, skip_next = skip_next, None
            cur = None
            while i < len(lines) and not lines[i].startswith("```"):
                ln = lines[i]
                if ln.startswith("$ "):
                    if cur:
                        yield cur
                    cmd, start = ln[2:], i + 1
                    while cmd.endswith("\\") and i + 1 < len(lines):
                        i += 1
                        cmd = cmd[:-1] + " " + lines[i].strip()
                    cur = (start, cmd, [], block_skip)
                elif cur:
                    cur[2].append(ln)
                i += 1
            if cur:
                yield cur
        i += 1


NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def same(want, got, rtol=1e-6):
    """Equal text, numbers equal to a relative 1e-6 (float32 sums differ in the last digits between BLAS
    kernels of different CPUs)."""
    if want == got:
        return True
    wn, gn = NUM.findall(want), NUM.findall(got)
    if len(wn) != len(gn) or NUM.sub("#", want) != NUM.sub("#", got):
        return False
    for a, b in zip(wn, gn):
        x, y = float(a), float(b)
        if abs(x - y) > rtol * max(abs(x), abs(y)) + 1e-12:
            return False
    return True


def matches(expected, out, err):
    """Documented lines in order in stdout; a line missing there may stand in stderr (in order too)."""
    o = [normalise(x) for x in out.split("\n")]
    e = [normalise(x) for x in err.split("\n")]
    io = ie = 0
    for want in expected:
        w = normalise(want)
        if w.strip() == "" or w.strip().startswith("..."):
            continue
        j = next((k for k in range(io, len(o)) if same(w, o[k])), None)
        if j is not None:
            io = j + 1
            continue
        j = next((k for k in range(ie, len(e)) if same(w, e[k])), None)
        if j is None:
            return want
        ie = j + 1
    return None


def main():
    build = os.path.realpath(sys.argv[1])
    repo = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
    files = sys.argv[2:] or ["README.md"] + sorted(glob.glob(os.path.join(repo, "docs", "*.md")))
    scratch = tempfile.mkdtemp(prefix="genmix-docs-")
    for d in ("examples", "tests", "tools"):
        os.symlink(os.path.join(repo, d), os.path.join(scratch, d))
    shutil.copytree(os.path.join(repo, "docs"), os.path.join(scratch, "docs"))
    # the built Python package (BUILD_DIR/python/genmix) stands in for the one `make install` puts where
    # Debian's python3 finds it; /usr/bin comes before the rest of PATH so that `python3` is Debian's (as on
    # a fresh machine), not another interpreter a developer put first
    env = dict(os.environ, PATH=build + ":/usr/bin:/bin:" + os.environ.get("PATH", ""), OMP_NUM_THREADS="2",
               OMP_WAIT_POLICY="passive", PYTHONPATH=os.path.join(build, "python"))
    ran = failed = 0
    skipped, slow = [], []
    have_python = os.path.exists(os.path.join(build, "python", "genmix", "_genmix.so"))
    try:
        for f in files:
            path = f if os.path.isabs(f) else os.path.join(repo, f)
            rel = os.path.relpath(path, repo)
            cwd = scratch
            for line, cmd, expected, skip in examples(path):
                if not skip and "import genmix" in cmd and not have_python:
                    skip = "the Python extension is not built in this build (a sanitizer build, or no python3-dev)"
                if skip:
                    skipped.append(f"{rel}:{line}: {skip}")
                    continue
                m = re.match(r"^cd (\S+)$", cmd.strip())
                if m:
                    cwd = os.path.normpath(os.path.join(cwd, m.group(1)))
                    continue
                ran += 1
                t0 = time.monotonic()
                timed_out = False  # an example that runs for minutes is not one a reader can run as shown
                try:
                    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True,
                                       timeout=TIMEOUT)
                    out, err = r.stdout, r.stderr
                except subprocess.TimeoutExpired:
                    out, err, timed_out = "", f"(timed out after {TIMEOUT} s)", True
                secs = time.monotonic() - t0
                if secs > 10:
                    slow.append(f"{rel}:{line}: {secs:.0f} s")
                miss = matches(expected, out, err) if not timed_out else f"(ran over the {TIMEOUT} s limit)"
                if miss is not None:
                    failed += 1
                    print(f"FAIL {rel}:{line}: $ {cmd}\n  documented line not in the output: {miss!r}\n"
                          f"  stdout:\n    " + "\n    ".join(out.rstrip().split("\n")[-15:]) +
                          "\n  stderr:\n    " + "\n    ".join(err.rstrip().split("\n")[-8:]), file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    for s in slow:
        print(f"slow (over 10 s) {s}", file=sys.stderr)
    print(f"docs_check: {ran} examples run, {failed} differ, {len(skipped)} skipped (listed above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
