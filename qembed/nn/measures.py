"""Quantum-information measures of embedding states, each normalised to [0, 1].

All are computed in float32 whatever the input dtype (logarithms of small
probabilities under bf16/fp16 autocast are not trustworthy), never produce NaN
(also for all-zero or huge inputs), and have finite gradients. Per-position
functions take an optional ``attention_mask``: masked positions give 0 and never
influence unmasked ones; :func:`masked_mean` then averages over real positions.

- sense probabilities: ``p = |a|^2 / sum |a|^2`` of amplitudes ``a``;
- :func:`sense_entropy`: ``H(p) / log K``;
- :func:`predictive_entropy`: ``H(softmax(logits)) / log C``;
- :func:`superposition_coherence`: l1-coherence of the pure state,
  ``((sum_k |a_k|)^2 - 1) / (K - 1)`` for unit-norm ``a``;
- :func:`entanglement_entropy`: entropy of the Schmidt coefficients (squared
  singular values) of a two-token joint state ``Psi`` (K x K, unit Frobenius
  norm) divided by ``log K``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_TINY = torch.finfo(torch.float32).tiny
_NEGLIGIBLE = 1e-30  # a vector whose largest entry is smaller than this counts as zero


def _rescaled(values: Tensor, dims: int | tuple[int, ...] = -1) -> Tensor:
    """``values / max |values|`` over ``dims`` (largest entry becomes 1, so huge and
    subnormal inputs behave alike); negligible vectors become exact zeros, with a
    zero gradient instead of an overflowing one."""
    values = values.float()
    scale = values.abs().amax(dims, keepdim=True)
    significant = scale > _NEGLIGIBLE
    safe_scale = torch.where(significant, scale, torch.ones_like(scale))
    return torch.where(significant, values / safe_scale, torch.zeros_like(values))


def _entropy(probabilities: Tensor) -> Tensor:
    """Shannon entropy over the last dimension, with a finite gradient at p = 0."""
    return -(probabilities * probabilities.clamp_min(_TINY).log()).sum(-1)


def _normalise_probabilities(weights: Tensor) -> Tensor:
    """Non-negative weights scaled to sum to 1 (uniform where all are zero)."""
    weights = _rescaled(weights.abs())
    total = weights.sum(-1, keepdim=True)  # >= 1 unless the whole vector is negligible
    uniform = torch.full_like(weights, 1.0 / weights.shape[-1])
    return torch.where(total > 0, weights / total.clamp_min(1.0), uniform)


def _apply_mask(values: Tensor, attention_mask: Tensor | None) -> Tensor:
    if attention_mask is None:
        return values
    return torch.where(attention_mask.bool(), values, torch.zeros_like(values))


def masked_mean(values: Tensor, attention_mask: Tensor | None, dim: int | tuple[int, ...] = -1) -> Tensor:
    """Mean of ``values`` over ``dim`` counting only positions where the mask is set
    (0 where there are none)."""
    values = values.float()
    if attention_mask is None:
        return values.mean(dim)
    mask = attention_mask.bool()
    total = torch.where(mask, values, torch.zeros_like(values)).sum(dim)
    return total / mask.sum(dim).clamp_min(1)


def sense_probabilities(amplitudes: Tensor) -> Tensor:
    """Born rule: ``p_k = |a_k|^2 / sum_j |a_j|^2`` over the last dimension."""
    return _normalise_probabilities(_rescaled(amplitudes) ** 2)


def sense_entropy(probabilities: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """How undecided each token is between its K senses: ``H(p) / log K``.

    0 for a collapsed (one-hot) state, 1 for the uniform superposition.
    ``probabilities``: ``[..., K]`` (rescaled to sum to 1); returns ``[...]``.
    """
    num_states = probabilities.shape[-1]
    if num_states < 2:
        return _apply_mask(torch.zeros(probabilities.shape[:-1], device=probabilities.device), attention_mask)
    value = _entropy(_normalise_probabilities(probabilities)) / math.log(num_states)
    return _apply_mask(value.clamp(0.0, 1.0), attention_mask)


def predictive_entropy(logits: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """Uncertainty of a prediction: ``H(softmax(logits)) / log C``.

    ``logits``: ``[..., C]``; returns ``[...]``; 0 for a certain prediction, 1 for
    a uniform one.
    """
    num_classes = logits.shape[-1]
    if num_classes < 2:
        return _apply_mask(torch.zeros(logits.shape[:-1], device=logits.device), attention_mask)
    logits = logits.float()
    log_p = torch.log_softmax(logits, dim=-1)
    value = -(log_p.exp() * log_p).sum(-1) / math.log(num_classes)
    value = torch.nan_to_num(value, nan=0.0)
    return _apply_mask(value.clamp(0.0, 1.0), attention_mask)


def superposition_coherence(amplitudes: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """l1-coherence of the pure state with amplitudes ``a`` (normalised first):
    ``((sum_k |a_k|)^2 - 1) / (K - 1)``.

    1 for the uniform superposition, 0 for a basis (collapsed) state; invariant to
    the order and signs of the amplitudes. ``amplitudes``: ``[..., K]``.
    """
    num_states = amplitudes.shape[-1]
    if num_states < 2:
        return _apply_mask(torch.zeros(amplitudes.shape[:-1], device=amplitudes.device), attention_mask)
    amplitudes = _rescaled(amplitudes)
    # the norm is >= 1 unless the vector is negligible (then all zeros: coherence 0)
    norm = amplitudes.square().sum(-1, keepdim=True).clamp_min(1.0).sqrt()
    magnitudes = amplitudes.abs() / norm
    value = (magnitudes.sum(-1) ** 2 - 1.0) / (num_states - 1)
    return _apply_mask(value.clamp(0.0, 1.0), attention_mask)


def entanglement_entropy(joint_state: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """Entanglement of two-token joint states ``Psi`` (``[..., K, K]``).

    The entropy of the Schmidt coefficients (squared singular values of ``Psi``
    after scaling it to unit Frobenius norm) divided by ``log K``: 0 for a product
    state ``a b^T``, 1 for a maximally entangled state ``U / sqrt(K)`` with ``U``
    orthogonal; unchanged by local orthogonal transforms ``O1 Psi O2^T`` and by
    transposition. Returns ``[...]``.
    """
    num_states = min(joint_state.shape[-2:])
    if num_states < 2:
        return _apply_mask(torch.zeros(joint_state.shape[:-2], device=joint_state.device), attention_mask)
    psi = _rescaled(joint_state, (-2, -1))
    schmidt = _normalise_probabilities(torch.linalg.svdvals(psi) ** 2)
    value = _entropy(schmidt) / math.log(num_states)
    return _apply_mask(value.clamp(0.0, 1.0), attention_mask)
