"""Collapse: from a superposition of senses to one sense.

A *collapse strategy* (plugin kind ``collapse``) is an ``nn.Module`` that, given
each token's sense probabilities and, when it asks for it, the agreement of each
sense with the token's context, returns sense weights ``[B, T, K]``: one-hot for a
hard choice (with a straight-through gradient, so training still reaches the
probabilities) or a soft distribution. It reads ``self.training`` to tell training
(may sample) from evaluation (deterministic).

A *collapse-aware* module (``QuantumEmbeddings``) holds a collapse probability
that the trainer sets every optimizer step with :func:`set_collapse_probability`;
no forward signature has to change, so a Hugging Face model with a qembed layer
inside works too.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor, nn


class CollapseStrategy(nn.Module):
    """Base class of collapse strategies.

    ``uses_context``: whether :meth:`forward` wants the context agreement scores
    (computing them costs a pass over the senses, so it is skipped otherwise). A
    contextual ``QuantumEmbeddings`` passes ``agreement=None`` all the same: its
    probabilities already depend on the context.
    """

    uses_context: bool = False

    def forward(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor:
        """Sense weights ``[B, T, K]`` from probabilities ``[B, T, K]``, context
        agreement ``[B, T, K]`` (or ``None``) and a boolean mask ``[B, T]``."""
        raise NotImplementedError


def one_hot_argmax(scores: Tensor) -> Tensor:
    """One-hot ``[..., K]`` of the highest score."""
    return nn.functional.one_hot(scores.argmax(-1), scores.shape[-1]).to(scores.dtype)


def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """``hard`` in the forward pass, the gradient of ``soft`` in the backward pass.

    Written as ``hard + (soft - soft.detach())`` so the forward value is exactly
    ``hard`` (``x - x`` is exactly 0).
    """
    return hard + (soft - soft.detach())


@runtime_checkable
class CollapseAware(Protocol):
    """A module whose collapse probability the trainer sets."""

    def set_collapse_probability(self, probability: float | Tensor) -> None: ...


def collapse_aware_modules(model: nn.Module) -> list[CollapseAware]:
    """Every collapse-aware module inside ``model`` (any ``nn.Module`` tree)."""
    return [module for module in model.modules() if isinstance(module, CollapseAware)]


def set_collapse_probability(model: nn.Module, probability: float | Tensor) -> int:
    """Set the collapse probability on every collapse-aware module of ``model``.

    ``probability`` is a float in [0, 1] (checked) or a 0-dim tensor (not checked,
    to avoid a device sync). Returns how many modules were set.
    """
    if not isinstance(probability, Tensor):
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"collapse probability must be in [0, 1], got {probability}")
    modules = collapse_aware_modules(model)
    for module in modules:
        module.set_collapse_probability(probability)
    return len(modules)
