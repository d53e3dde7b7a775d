"""genmix — sample-quality metrics, generator mixing and mixture-of-experts over NumPy arrays.

A CPython extension over the genmix C library (the same code as the `genmix` command line tool):

    import genmix, numpy as np
    genmix.eval.prdc(real, fake, k=5)          # {'precision', 'recall', 'density', 'coverage', ...}
    genmix.eval.fd(real, fake)                  # Frechet distance (float)

Modules: genmix.eval (metrics), genmix.mix (mixing of generators), genmix.moe (mixture of experts).
Errors: ValueError (bad arguments, shapes, non-finite input), MemoryError, genmix.Error (other library
failures); the message is the library's. Computations release the GIL.
"""
from ._genmix import Error, __version__, version  # noqa: F401
from . import eval  # noqa: F401  (shadows the builtin only as genmix.eval)

__all__ = ["Error", "__version__", "version", "eval"]
