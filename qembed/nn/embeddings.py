"""``QuantumEmbeddings``: each token as a superposition of sense vectors."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from qembed import plugins
from qembed.arguments import check_int
from qembed.nn.collapse import CollapseStrategy
from qembed.nn.measures import masked_mean, sense_entropy, superposition_coherence
from qembed.nn.roles import RoleTagged
from qembed.nn.validation import check_attention_mask, check_token_ids

_EPS = 1e-12


class SuperposedEmbedding(NamedTuple):
    """What :class:`QuantumEmbeddings` returns for a batch ``[B, T]``."""

    embeddings: Tensor  # [B, T, D] the sense vectors mixed by ``weights``
    amplitudes: Tensor  # [B, T, K] unit-norm sense amplitudes a
    probabilities: Tensor  # [B, T, K] sense probabilities p = a^2
    weights: Tensor  # [B, T, K] the sense weights used: one-hot where collapsed, p elsewhere
    collapsed: Tensor  # [B, T] bool, which tokens collapsed

    def per_example(self, attention_mask: Tensor) -> dict[str, Tensor]:
        """``uncertainty`` (mean sense entropy) and ``superposition`` (mean coherence)
        of each example ``[B]`` over its real tokens, as :class:`QuantumOutput` holds them."""
        return {
            "uncertainty": masked_mean(sense_entropy(self.probabilities, attention_mask), attention_mask),
            "superposition": masked_mean(superposition_coherence(self.amplitudes, attention_mask), attention_mask),
        }


class QuantumEmbeddings(RoleTagged):
    """Token embeddings held as a superposition of ``num_states`` senses.

    Every token id owns ``num_states`` sense vectors ``s_k`` and learned amplitudes
    ``a`` (unit norm; sense probabilities ``p = a^2``). In training each real token
    collapses with the collapse probability ``p_c`` (set by the trainer through
    :func:`qembed.nn.set_collapse_probability`) to the one sense its collapse
    strategy picks, as a one-hot choice with a straight-through gradient; otherwise
    it stays in superposition, the mixture ``sum_k p_k s_k``.

    In evaluation the rule is ``eval_collapse``: ``True`` (default) collapses every
    token deterministically (the strategy's choice without sampling), ``False``
    keeps every token in superposition. Either way evaluation is deterministic.

    ``collapse_strategy`` is a registered name or spec (kind ``collapse``) or a
    built :class:`~qembed.nn.CollapseStrategy`. Strategies that use context get,
    for each sense, its agreement with a context vector: the mean of the
    superposed embeddings of the other real tokens within ``context_window``
    positions (the whole sequence when ``None``), passed through a learned
    projection.

    ``sequential = True`` (the trainer's ``collapse_optimization="sequential"``)
    collapses and mixes one sequence at a time, each recomputed in backward, to hold
    one sequence's ``[T, K, D]`` senses instead of the batch's; the random draws are
    the same as batched.

    Parameter roles: amplitudes ``superposition``, context projection ``collapse``;
    the sense vectors are classical.
    """

    parameter_roles = {"sense_amplitudes": "superposition", "context_projection": "collapse"}

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        num_states: int = 4,
        collapse_strategy: Any = "context_aware",
        *,
        context_window: int | None = None,
        eval_collapse: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim), ("num_states", num_states)):
            check_int(name, value, minimum=1)
        if context_window is not None:
            check_int("context_window", context_window, minimum=1)
        strategy = plugins.create("collapse", collapse_strategy)
        if not isinstance(strategy, CollapseStrategy):
            raise TypeError(
                f"collapse_strategy must build a qembed.nn.CollapseStrategy, got {type(strategy).__name__}"
            )
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.num_states = num_states
        self.context_window = context_window
        self.eval_collapse = eval_collapse
        self.sequential = False  # collapse_optimization="sequential": one sequence at a time
        self.sense_embeddings = nn.Parameter(torch.randn(vocab_size, num_states, embedding_dim))
        # near-uniform superposition at the start: every sense equally likely
        self.sense_amplitudes = nn.Parameter(1.0 + 0.1 * torch.randn(vocab_size, num_states))
        self.context_projection = nn.Linear(embedding_dim, embedding_dim, bias=False)
        nn.init.eye_(self.context_projection.weight)
        self.collapse = strategy
        self.register_buffer("collapse_probability", torch.zeros(()), persistent=False)
        self.apply_roles()

    def set_collapse_probability(self, probability: float | Tensor) -> None:
        """Set ``p_c`` in place (no device sync; a buffer, so ``torch.compile`` does
        not recompile when it changes)."""
        with torch.no_grad():
            if isinstance(probability, Tensor):
                self.collapse_probability.copy_(probability)
            else:
                self.collapse_probability.fill_(probability)

    def amplitudes(self, input_ids: Tensor) -> Tensor:
        """Unit-norm sense amplitudes ``[..., K]`` of the given token ids."""
        raw = nn.functional.embedding(input_ids, self.sense_amplitudes)
        return raw / torch.linalg.vector_norm(raw, dim=-1, keepdim=True).clamp_min(_EPS)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> SuperposedEmbedding:
        check_token_ids(input_ids, self.vocab_size)
        mask = check_attention_mask(attention_mask, input_ids)
        draws = torch.rand(mask.shape, device=mask.device) if self.training else None
        if not (self.sequential and input_ids.dim() == 2 and torch.is_grad_enabled()):
            return self._superpose(input_ids, mask, draws)
        # one sequence at a time, recomputed in backward: the [T, K, D] senses of one
        # sequence are held at once instead of the batch's [B, T, K, D]
        rows = [
            checkpoint(self._superpose, input_ids[b : b + 1], mask[b : b + 1],
                       None if draws is None else draws[b : b + 1], use_reentrant=False)
            for b in range(input_ids.shape[0])
        ]
        return SuperposedEmbedding(*(torch.cat(parts) for parts in zip(*rows)))

    def _superpose(self, input_ids: Tensor, mask: Tensor, draws: Tensor | None) -> SuperposedEmbedding:
        """Collapse (where ``draws < p_c``) and mix the senses of a batch of sequences."""
        # F.embedding, not indexing: its CPU backward sums in a fixed order (indexing's
        # multi-threaded accumulation is not deterministic, which would break exact resume)
        flat = self.sense_embeddings.view(self.vocab_size, self.num_states * self.embedding_dim)
        senses = nn.functional.embedding(input_ids, flat).unflatten(-1, (self.num_states, self.embedding_dim))
        amplitudes = self.amplitudes(input_ids)
        probabilities = amplitudes * amplitudes
        agreement = self._context_agreement(senses, probabilities, mask) if self.collapse.uses_context else None
        choice = self.collapse(probabilities, agreement, mask)
        if draws is not None:
            collapsed = (draws < self.collapse_probability) & mask
        elif self.eval_collapse:
            collapsed = mask
        else:
            collapsed = torch.zeros_like(mask)
        weights = torch.where(collapsed.unsqueeze(-1), choice.to(probabilities.dtype), probabilities)
        embeddings = torch.einsum("btk,btkd->btd", weights.to(senses.dtype), senses)
        return SuperposedEmbedding(embeddings, amplitudes, probabilities, weights, collapsed)

    def _context_agreement(self, senses: Tensor, probabilities: Tensor, mask: Tensor) -> Tensor:
        """``<s_k, W c_t> / sqrt(D)``: how well each sense fits the token's context."""
        weight = mask.unsqueeze(-1).to(senses.dtype)
        superposed = torch.einsum("btk,btkd->btd", probabilities.to(senses.dtype), senses) * weight
        totals, counts = _window_sums(superposed, weight, self.context_window)
        context = (totals - superposed) / (counts - weight).clamp_min(1.0)
        projected = self.context_projection(context)
        return torch.einsum("btkd,btd->btk", senses, projected) / math.sqrt(self.embedding_dim)

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, embedding_dim={self.embedding_dim}, num_states={self.num_states}, "
            f"context_window={self.context_window}, eval_collapse={self.eval_collapse}"
        )


def _window_sums(values: Tensor, weight: Tensor, window: int | None) -> tuple[Tensor, Tensor]:
    """Sums of ``values`` and ``weight`` over positions ``[t - window, t + window]``
    (the whole sequence when ``window`` is None), for every ``t``; vectorised."""
    if window is None:
        return values.sum(1, keepdim=True).expand_as(values), weight.sum(1, keepdim=True).expand_as(weight)
    length = values.shape[1]
    positions = torch.arange(length, device=values.device)
    upper = (positions + window).clamp(max=length - 1) + 1
    lower = (positions - window).clamp(min=0)

    def windowed(x: Tensor) -> Tensor:
        prefix = torch.cat([torch.zeros_like(x[:, :1]), x.cumsum(1)], dim=1)
        return prefix[:, upper] - prefix[:, lower]

    return windowed(values), windowed(weight)
