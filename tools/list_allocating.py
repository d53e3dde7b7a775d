#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""List the public genmix functions that can allocate (reach gm_malloc/gm_calloc/gm_realloc/gm_strdup
through direct calls) — the set the tests/test_alloc_sweep*.c files must cover. Allocations a library
makes with its own malloc (LAPACKE work arrays) are not seen: genmix fault injection cannot reach them.

Usage: python3 tools/list_allocating.py [ROOT]      (ROOT defaults to the repository root)

It compiles every src/*/*.c with gcc -fcallgraph-info into a temporary directory, merges the per-file
call graphs and walks them backwards from the allocators. Calls through function pointers (the tape's
backward closures, model vtables) are not seen, so the list is a lower bound; a public function is one
declared in include/genmix/*.h. Prints one name per line, sorted."""
import glob, os, re, subprocess, sys, tempfile

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
src = sorted(glob.glob(os.path.join(root, "src", "*", "*.c")))
incs = ["-I" + os.path.join(root, "include")] + ["-I" + d for d in sorted(glob.glob(os.path.join(root, "src", "*")))
                                                   if os.path.isdir(d)]
ALLOC = {"gm_malloc", "gm_calloc", "gm_realloc", "gm_strdup"}
edges = {}
with tempfile.TemporaryDirectory() as tmp:
    for i, f in enumerate(src):
        o = os.path.join(tmp, "f%d.o" % i)
        subprocess.run(["gcc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-DGM_HAVE_BLAS=1", "-fopenmp", "-O0",
                        "-I/usr/include/cjson", "-fcallgraph-info", "-dumpdir", tmp + "/", "-c", f, "-o", o] + incs,
                       check=True)
    for ci in glob.glob(os.path.join(tmp, "*.ci")):
        for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', open(ci).read()):
            edges.setdefault(m.group(2), set()).add(m.group(1))
public = set()
for h in glob.glob(os.path.join(root, "include", "genmix", "*.h")):
    public |= set(re.findall(r"\b(gm_[a-z0-9_]+)\s*\(", open(h).read()))
seen, todo = set(ALLOC), list(ALLOC)
while todo:
    for caller in edges.get(todo.pop(), ()):
        if caller not in seen:
            seen.add(caller)
            todo.append(caller)
for name in sorted((seen & public) - ALLOC):
    print(name)
