#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_deps.py — checks that each Makefile target installs every Debian package its scripts use.

For each target (test, demo, bench, fuzz) it reads the scripts the target runs, follows the scripts they
call (bash X.sh, python3 X.py, Rscript X.R), and collects
  - commands in command position (first word of a line or of a pipeline/list element),
  - Python modules imported (heredocs fed to python3, `python3 -c "..."` strings, .py files),
  - R libraries loaded (library(x) / require(x)).
Each command and module is mapped to the Debian package that owns its file (dpkg -S); the package
must be Essential/required, or in the dependency closure of the packages the target installs
(DEPS_* lists of the Makefile). A command or module that is not installed at all is an error too.
Usage: tools/check_deps.py [target...]      (run from the repository root; exit 1 on any finding)
"""
import glob
import os
import re
import shutil
import subprocess
import sys

# Which DEPS_* lists each make target installs, and which scripts it runs.
TARGETS = {
    "test": (["DEPS_BUILD", "DEPS_TEST"], ["tests/cli_*.sh", "tests/*.py"]),
    "demo": (["DEPS_BUILD", "DEPS_DEMO"], ["tools/demo.sh", "tools/demo.d/*.sh"]),
    "bench": (["DEPS_BUILD", "DEPS_BENCH", "DEPS_PYTHON"], ["bench/run.sh", "bench/run_*.sh"]),
    "fuzz": (["DEPS_BUILD", "DEPS_FUZZ"], ["fuzz/run.sh"]),
}
SHELL_WORDS = set("""if then else elif fi for while until do done case esac in function select time
    ! { } [[ ]] [ test echo printf read cd exit return set unset export local declare trap eval exec
    shift source . true false wait kill type command builtin let : break continue pushd popd umask
    readonly getopts hash ulimit mapfile alias""".split())


# Commands from non-required packages that a machine may lack entirely (so dpkg -S cannot name them).
OPTIONAL_TOOLS = {"python3": "python3", "Rscript": "r-base-core", "R": "r-base-core", "xxd": "xxd",
                  "valgrind": "valgrind", "clang": "clang", "jq": "jq", "bc": "bc", "file": "file",
                  "gnuplot": "gnuplot", "convert": "imagemagick", "unzip": "unzip", "zip": "zip",
                  "curl": "curl", "wget": "wget", "git": "git", "make": "make", "cmake": "cmake",
                  "gcc": "gcc", "strace": "strace", "ps": "procps", "pgrep": "procps", "pkill": "procps"}

PY_PACKAGES = {"sklearn": "python3-sklearn", "PIL": "python3-pil", "yaml": "python3-yaml", "cv2": "python3-opencv"}


def own_modules():
    """Python modules the repository itself provides (the genmix package, helper scripts beside the
    scripts that import them): no Debian package is needed for them."""
    own = set()
    if os.path.isdir("python"):
        own |= {d for d in os.listdir("python") if os.path.isfile(os.path.join("python", d, "__init__.py"))}
    for folder in ("tools", "bench", "tests"):
        own |= {os.path.basename(f)[:-3] for f in glob.glob(os.path.join(folder, "*.py"))}
    return own


def makefile_lists():
    text = open(os.environ.get("GM_MAKEFILE", "Makefile")).read().replace("\\\n", " ")
    lists = {}
    for m in re.finditer(r"^(DEPS_\w+)\s*:?=(.*)$", text, re.M):
        lists[m.group(1)] = m.group(2).split()
    return lists


def closure(pkgs):
    if not pkgs:
        return set()
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs,
                         capture_output=True, text=True).stdout
    return {l.strip() for l in out.splitlines() if l and not l.startswith(" ")} | set(pkgs)


def owner(path):
    for p in (path, os.path.realpath(path)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    return None


def basic(pkg):
    """Essential or Priority: required — present on every Debian system."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", pkg], capture_output=True, text=True)
    return r.stdout.startswith("yes") or "required" in r.stdout


def strip_heredocs(lines):
    """Returns (shell lines, [(interpreter line, body)]) with heredoc bodies separated."""
    shell, docs, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        shell.append(line)
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        i += 1
        if m:
            body = []
            while i < len(lines) and lines[i].strip() != m.group(1):
                body.append(lines[i])
                i += 1
            i += 1
            docs.append((line, "\n".join(body)))
    return shell, docs


def py_imports(src):
    mods = set()
    for m in re.finditer(r"^\s*(?:import\s+([\w., ]+)|from\s+(\w+)[\w.]*\s+import)", src, re.M):
        if m.group(1):
            mods |= {x.strip().split()[0].split(".")[0] for x in m.group(1).split(",") if x.strip()}
        else:
            mods.add(m.group(2))
    for m in re.finditer(r"python3\S*\s+-c\s+([\"'])(.*?)\1", src):
        mods |= py_imports(m.group(2).replace(";", "\n"))
    return mods


def unquote(text):
    """Blanks comments and single-quoted spans (awk/python programs, messages) and double-quoted
    spans without a command substitution, so only shell words remain in command position."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            out.append(text[i:i + 2])
            i += 2
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;"):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == "'":
            j = text.find("'", i + 1)
            i = n if j < 0 else j + 1
            out.append("Q")
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            span = text[i:j + 1]
            out.append(span if "$(" in span else "Q")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def scan(path, seen, cmds, mods, rlibs):
    if path in seen or not os.path.isfile(path):
        return
    seen.add(path)
    text = open(path, errors="replace").read()
    if path.endswith(".py"):
        mods |= py_imports(text)
        return
    if path.endswith(".R"):
        rlibs |= set(re.findall(r"(?:library|require)\((\w[\w.]*)", text))
        return
    shell, docs = strip_heredocs(text.splitlines())
    for head, body in docs:
        if "python3" in head:
            mods |= py_imports(body)
        if "Rscript" in head:
            rlibs |= set(re.findall(r"(?:library|require)\((\w[\w.]*)", body))
    funcs = set(re.findall(r"^\s*(\w+)\s*\(\)", text, re.M))
    mods |= py_imports("\n".join(shell))
    for line in unquote("\n".join(shell)).splitlines():
        for f in re.findall(r"(?:bash|python3|Rscript)\s+\"?([\w./-]+\.(?:sh|py|R))", line):
            for g in glob.glob(f):
                scan(g, seen, cmds, mods, rlibs)
        for seg in re.split(r"\|\||&&|[|;(`]|\$\(|\bthen\b|\bdo\b|\belse\b", line):
            words = seg.split()
            while words and (words[0] in ("!", "if", "while", "until", "time", "exec", "command", "{")
                             or re.match(r"^\w+=", words[0])):
                words.pop(0)
            if words and words[0] in ("timeout",) and len(words) > 2:
                words = words[2:]
            if not words:
                continue
            w = words[0]
            if w.startswith(("/usr/", "/bin/")):
                w = os.path.basename(w)  # /usr/bin/python3: a system command by its full path
            if not re.match(r"^[A-Za-z][\w.+-]*$", w) or w in SHELL_WORDS or w in funcs:
                continue
            cmds.add(w)


def main(targets):
    lists = makefile_lists()
    stdlib = set(sys.stdlib_module_names)
    findings = []
    for t in targets:
        names, patterns = TARGETS[t]
        installed = closure([p for n in names for p in lists.get(n, [])])
        seen, cmds, mods, rlibs = set(), set(), set(), set()
        for pat in patterns:
            for f in sorted(glob.glob(pat)):
                scan(f, seen, cmds, mods, rlibs)
        need = {}
        for c in sorted(cmds):
            path = shutil.which(c, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            if path is None:
                # a word the heuristics took for a command; only known optional tools are findings
                if c in OPTIONAL_TOOLS and OPTIONAL_TOOLS[c] not in installed:
                    findings.append(f"make {t}: scripts call `{c}` (Debian package {OPTIONAL_TOOLS[c]}), "
                                    f"which is not installed")
                continue
            need[f"command {c}"] = owner(path)
        if mods - stdlib:
            py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
            if py is None:
                findings.append(f"make {t}: scripts import Python modules but python3 is missing")
            for m in sorted(mods - stdlib - own_modules()):
                r = subprocess.run([py or "python3", "-c",
                                    f"import importlib.util as u; s = u.find_spec('{m}'); print(s.origin if s else '')"],
                                   capture_output=True, text=True) if py else None
                origin = r.stdout.strip() if r else ""
                if not origin:  # not on this machine: the target must install it under Debian's name
                    pkg = PY_PACKAGES.get(m, "python3-" + m.lower())
                    if pkg not in installed:
                        findings.append(f"make {t}: scripts import Python module `{m}` (Debian package {pkg}), "
                                        f"but {' + '.join(names)} do not install it")
                    continue
                need[f"python module {m}"] = owner(origin)
        for lib in sorted(rlibs):
            need[f"R library {lib}"] = "r-cran-" + lib.lower()
        for what, pkg in need.items():
            if pkg is None or pkg in installed or basic(pkg):
                continue  # None: a file no package owns (e.g. the build's own binaries)
            findings.append(f"make {t}: scripts use {what} (Debian package {pkg}), "
                            f"but {' + '.join(names)} do not install it")
    for f in findings:
        print(f, file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(TARGETS)))
