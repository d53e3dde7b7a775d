# SPDX-License-Identifier: MIT
"""genmix.eval — sample-quality metrics between feature sets (one embedding per row).

Inputs are N x D NumPy arrays of float32 or float64 (used in place when C-contiguous; other layouts and
dtypes are copied to a C-order float64 array first). Every function takes the `genmix eval --profile`
names ('genmix', 'torch-fidelity', 'clean-fid', 'prdc', 'dgm-eval', 'nvidia', 'openai') and returns the
same numbers as the CLI's JSON, bit for bit. Conventions and formulas: help() of each function, and
docs/eval.md in the source tree.
"""
from ._genmix import (FeatureStats, KNNStream, cmmd, fd, fd_infinity, fd_stats, is_score, kid,  # noqa: F401
                      mmd, pr, prd, prdc, rke, vendi)

__all__ = ["fd", "fd_stats", "kid", "mmd", "pr", "prdc", "prd", "vendi", "rke", "is_score", "cmmd", "fd_infinity",
           "FeatureStats", "KNNStream"]
