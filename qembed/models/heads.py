"""What every qembed model adds to its logits: the per-example predictive uncertainty."""

from __future__ import annotations

from torch import Tensor

from qembed.nn.measures import masked_mean, predictive_entropy


def prediction_uncertainty(logits: Tensor, scored: Tensor | None = None) -> dict[str, Tensor]:
    """``uncertainty`` and ``predictive_entropy`` ``[B]`` of ``logits``: ``[B, C]``, or
    token-level ``[B, T, C]`` averaged over the ``scored`` positions ``[B, T]`` (all when
    ``None``). Both are the same one-forward quantity; evaluation with collapse samples
    replaces ``uncertainty`` by the entropy of the averaged prediction. Not detached: a
    loss or ``uncertainty_regularization`` that weighs the uncertainty trains on it."""
    entropy = predictive_entropy(logits)
    if entropy.dim() > 1:
        entropy = masked_mean(entropy, scored)
    return {"uncertainty": entropy, "predictive_entropy": entropy}
