# SPDX-License-Identifier: MIT
"""genmix.moe — softmax-gated multinomial-logistic mixtures of experts for classification: `fit` (EM with
restarts), `select` (number of experts by BIC/AIC/ICL); the fitted MoE has predict_proba / predict /
gate_proba / sample and its coefficients W, V.
"""
from ._genmix import MoE, moe_fit as fit, moe_select as select  # noqa: F401

__all__ = ["fit", "select", "MoE"]
