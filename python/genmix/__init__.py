# SPDX-License-Identifier: MIT
"""genmix — sample-quality metrics, generator mixing and mixture-of-experts over NumPy arrays.

A CPython extension over the genmix C library (the same code as the `genmix` command line tool):

    import genmix, numpy as np
    genmix.eval.prdc(real, fake, k=5)          # {'precision', 'recall', 'density', 'coverage', ...}
    genmix.eval.fd(real, fake)                  # Frechet distance (float)

Modules: genmix.eval (metrics), genmix.mix (mixing of generators), genmix.moe (mixture of experts);
genmix.load(path) opens a trained autoencoder (.sample(n)); genmix.align(denoiser=..., reward=..., alpha=...)
runs DAS (tempered twisted SMC) over your own diffusion model and reward given as Python callables.
Errors: ValueError (bad arguments, shapes, non-finite input), MemoryError, genmix.Error (other library
failures); the message is the library's. Computations release the GIL.
"""
from ._genmix import Autoencoder, Error, __version__, align, load, version  # noqa: F401
from . import eval, mix, moe  # noqa: F401  (genmix.eval shadows the builtin only inside this package)

__all__ = ["Error", "__version__", "version", "eval", "mix", "moe", "load", "Autoencoder", "align"]
