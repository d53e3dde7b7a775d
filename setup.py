# SPDX-License-Identifier: MIT
"""setup.py — builds the genmix Python package with setuptools alone (no network, no CMake): the C library
sources src/*/*.c and the extension python/genmix/*.c compiled into one module genmix._genmix.

    python3 -m pip install .                      # a user's own interpreter (needs numpy + a C compiler)
    python3 -m pip install --no-build-isolation .  # offline: use the installed setuptools and numpy

System libraries (Debian): libopenblas-openmp-dev, liblapacke-dev, libcjson-dev, libpng-dev, zlib1g-dev,
located with pkg-config. The project's CMake build (`make install`) builds the same package for Debian's
/usr/bin/python3.
"""
import glob
import os
import re
import subprocess

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
OPENBLAS_PC = "/usr/lib/x86_64-linux-gnu/openblas-openmp/pkgconfig"


def version():
    with open(os.path.join(HERE, "CMakeLists.txt")) as f:
        return re.search(r"project\(genmix VERSION ([0-9.]+)", f.read()).group(1)


def pkg_config(*pkgs):
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = OPENBLAS_PC + ":" + env.get("PKG_CONFIG_PATH", "")
    out = subprocess.run(["pkg-config", "--cflags", "--libs", *pkgs], check=True, capture_output=True, text=True,
                         env=env).stdout.split()
    inc = [a[2:] for a in out if a.startswith("-I")]
    libdirs = [a[2:] for a in out if a.startswith("-L")]
    libs = [a[2:] for a in out if a.startswith("-l")]
    return inc, libdirs, libs


rel = lambda paths: sorted(os.path.relpath(p, HERE) for p in paths)  # noqa: E731
lib_sources = rel(glob.glob(os.path.join(HERE, "src", "*", "*.c")))
ext_sources = rel(glob.glob(os.path.join(HERE, "python", "genmix", "*.c")))
src_dirs = rel(d for d in glob.glob(os.path.join(HERE, "src", "*")) if os.path.isdir(d))
inc, libdirs, libs = pkg_config("libcjson", "libpng", "zlib", "openblas", "lapacke")

ext = Extension(
    "genmix._genmix",
    sources=ext_sources + lib_sources,
    include_dirs=["include", *src_dirs, numpy.get_include(), *inc],
    define_macros=[("_POSIX_C_SOURCE", "200809L"), ("GM_HAVE_BLAS", "1"),
                   ("GM_VERSION_STRING", '"%s"' % version())],
    extra_compile_args=["-std=c11", "-O2", "-fopenmp", "-Wno-unused-parameter"],
    extra_link_args=["-fopenmp"] + ["-Wl,-rpath," + d for d in libdirs],
    library_dirs=libdirs,
    libraries=libs + ["m"],
)

setup(
    name="genmix",
    version=version(),
    description="Sample-quality metrics, generator mixing and mixture-of-experts over NumPy arrays (C library)",
    license="MIT",
    packages=["genmix"],
    package_dir={"genmix": "python/genmix"},
    ext_modules=[ext],
    install_requires=["numpy"],
    python_requires=">=3.8",
)
