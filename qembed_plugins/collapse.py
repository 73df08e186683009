"""Built-in collapse strategies: ``context_aware``, ``argmax``, ``sample``, ``gumbel``.

Each returns one-hot sense weights with a straight-through gradient; in
evaluation every one of them is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from qembed import hookimpl
from qembed.arguments import check_number
from qembed.nn.collapse import CollapseStrategy, one_hot_argmax, straight_through

_TINY = torch.finfo(torch.float32).tiny


class ContextAwareCollapse(CollapseStrategy):
    """Choose the sense that best fits the token's context.

    In a contextual ``QuantumEmbeddings`` (the default) the context is already in the
    sense probabilities, so the choice is the most probable sense in context. For a
    context-free layer (``contextual=False``) the scores are ``log p_k + agreement_k``,
    the agreement of sense k with the context vector of the surrounding real tokens.
    The highest wins; the gradient flows through ``softmax(scores / temperature)``.
    """

    uses_context = True

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = float(check_number("temperature", temperature, minimum=0, exclusive=True))

    def forward(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor:
        scores = probabilities.clamp_min(_TINY).log()
        if agreement is not None:
            scores = scores + agreement
        return straight_through(one_hot_argmax(scores), torch.softmax(scores / self.temperature, dim=-1))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


class ArgmaxCollapse(CollapseStrategy):
    """Choose the most probable sense (highest ``p_k``), ignoring context."""

    def forward(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor:
        return straight_through(one_hot_argmax(probabilities), probabilities)


class SampleCollapse(CollapseStrategy):
    """Draw the sense from ``p`` in training (Born rule); the most probable in evaluation."""

    def forward(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor:
        if not self.training:
            return straight_through(one_hot_argmax(probabilities), probabilities)
        flat = probabilities.reshape(-1, probabilities.shape[-1]).float()
        drawn = torch.multinomial(flat, 1).reshape(probabilities.shape[:-1])
        hard = torch.nn.functional.one_hot(drawn, probabilities.shape[-1]).to(probabilities.dtype)
        return straight_through(hard, probabilities)


class GumbelCollapse(CollapseStrategy):
    """Straight-through Gumbel-softmax over ``log p`` with a ``temperature`` in
    training; the most probable sense in evaluation."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = float(check_number("temperature", temperature, minimum=0, exclusive=True))

    def forward(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor:
        if not self.training:
            return straight_through(one_hot_argmax(probabilities), probabilities)
        gumbel_noise = -torch.empty_like(probabilities).exponential_().log()
        scores = probabilities.clamp_min(_TINY).log() + gumbel_noise
        return straight_through(one_hot_argmax(scores), torch.softmax(scores / self.temperature, dim=-1))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


@hookimpl
def qembed_register_collapse() -> dict[str, Callable[..., CollapseStrategy]]:
    return {
        "context_aware": ContextAwareCollapse,
        "argmax": ArgmaxCollapse,
        "sample": SampleCollapse,
        "gumbel": GumbelCollapse,
    }
