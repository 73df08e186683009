"""Uncertainty from collapse samples, and how well an uncertainty detects errors.

A quantum model's prediction depends on which sense each token collapses to. Drawing
S collapse samples (every token measured by the Born rule, :func:`qembed.nn.collapse_sampling`)
gives S predictions ``p_s``; their mean is the model's averaged prediction. Its
normalised entropy is the total predictive uncertainty, which splits exactly into

    H(mean_s p_s) = mean_s H(p_s) + I

the expected entropy of one sample (aleatoric: what the model is unsure of whatever the
senses) and the mutual information ``I`` between the prediction and the collapse
outcome (epistemic: how much the answer depends on which sense was measured), each
divided by ``log C``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from qembed.nn.measures import masked_mean


class SampledUncertainty(NamedTuple):
    """Per example ``[B]``, each in [0, 1]: ``uncertainty = expected_entropy + mutual_information``."""

    uncertainty: Tensor  # entropy of the averaged prediction / log C
    expected_entropy: Tensor  # mean entropy of one sample's prediction / log C
    mutual_information: Tensor  # the epistemic part / log C
    mean_probabilities: Tensor  # [B, C] or [B, T, C], the averaged prediction


def _entropy(probabilities: Tensor) -> Tensor:
    return -(probabilities * probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log()).sum(-1)


def sampled_uncertainty(sample_logits: Tensor | Iterable[Tensor], scored: Tensor | None = None) -> SampledUncertainty:
    """The decomposition above from ``sample_logits``: a tensor ``[S, B, C]`` (or token-level
    ``[S, B, T, C]``, averaged over the ``scored`` positions ``[B, T]`` of each example), or
    the S samples' logits one at a time (an iterable), which holds one sample's
    probabilities at a time instead of all S: a masked LM's ``[B, T, V]`` logits are large."""
    mean = expected = None
    count = 0
    for logits in sample_logits:
        probabilities = logits.float().softmax(-1)
        entropy = _entropy(probabilities)
        mean = probabilities if mean is None else mean + probabilities
        expected = entropy if expected is None else expected + entropy
        count += 1
    if count == 0:
        raise ValueError("sampled_uncertainty needs at least one sample")
    mean, expected = mean / count, expected / count
    num_classes = mean.shape[-1]
    scale = math.log(num_classes) if num_classes > 1 else 1.0
    total, expected = _entropy(mean) / scale, expected / scale
    if total.dim() > 1:
        total, expected = masked_mean(total, scored), masked_mean(expected, scored)
    total, expected = total.clamp(0.0, 1.0), expected.clamp(0.0, 1.0)
    return SampledUncertainty(total, expected, (total - expected).clamp_min(0.0), mean)


def error_detection_auroc(uncertainty: Tensor, errors: Tensor) -> float:
    """AUROC of ``uncertainty`` as a detector of ``errors`` (bool, same shape): the
    probability that a random wrong prediction is more uncertain than a random right
    one, ties counting half (the Mann-Whitney statistic). NaN when either class is empty."""
    uncertainty, errors = uncertainty.detach().double().flatten(), errors.flatten().bool()
    wrong, right = int(errors.sum()), int((~errors).sum())
    if wrong == 0 or right == 0:
        return math.nan
    # average ranks (ties share theirs), then the rank-sum of the errors
    order = uncertainty.argsort()
    sorted_values = uncertainty[order]
    ranks = torch.empty_like(uncertainty)
    ranks[order] = torch.arange(1, len(uncertainty) + 1, dtype=torch.float64, device=uncertainty.device)
    _, inverse, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts + 1
    average = (first + (counts - 1) / 2.0).double()
    ranks[order] = average[inverse]
    rank_sum = ranks[errors].sum().item()
    return (rank_sum - wrong * (wrong + 1) / 2.0) / (wrong * right)
