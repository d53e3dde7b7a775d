# SPDX-License-Identifier: MIT
"""genmix.mix — choosing and mixing generators by a diversity/quality score (Mixture-UCB, Rezaei, Farnia &
Li, ICLR 2025): `offline(arms, ...)` gives the optimal mixture weights from samples of each generator;
`Bandit(...)` learns them online while your code draws the samples (select() -> arm, observe(features)).
"""
from ._genmix import Bandit, offline  # noqa: F401

__all__ = ["offline", "Bandit"]
