"""``QuantumEmbeddings``: each token as a superposition of sense vectors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from qembed import plugins
from qembed.arguments import check_bool, check_int
from qembed.nn.collapse import CollapseStrategy
from qembed.nn.measures import masked_mean, sense_entropy, superposition_coherence
from qembed.nn.roles import RoleTagged
from qembed.nn.validation import check_attention_mask, check_token_ids

_EPS = 1e-12
_TINY = torch.finfo(torch.float32).tiny
#: Scale of the sense offsets ``d_wk`` at initialisation (the shared ``e_w`` has scale 1).
SENSE_OFFSET_STD = 0.3
#: Gain of the context agreement at initialisation: offsets of scale 0.3 give senses that
#: differ little, so without it the context hardly moves ``p`` early in training
#: (measured on the polysemy task, 1 seed: gain 1, 4, 16 gave sense accuracy 0.59, 0.63,
#: 0.67 and test accuracy 0.92, 0.92, 0.88).
CONTEXT_GAIN = 4.0


#: How an evaluating layer mixes its senses (``eval_collapse``).
EVAL_MODES = ("expected", True, False)


class SuperposedEmbedding(NamedTuple):
    """What :class:`QuantumEmbeddings` returns for a batch ``[B, T]``."""

    embeddings: Tensor  # [B, T, D] the sense vectors mixed by ``weights``
    amplitudes: Tensor  # [B, T, K] unit-norm sense amplitudes a (in context)
    probabilities: Tensor  # [B, T, K] sense probabilities p = a^2 (in context)
    weights: Tensor  # [B, T, K] the sense weights used: one-hot where collapsed, p elsewhere
    collapsed: Tensor  # [B, T] bool, which tokens collapsed

    def per_example(self, attention_mask: Tensor) -> dict[str, Tensor]:
        """``sense_entropy`` (mean sense entropy) and ``superposition`` (mean coherence)
        of each example ``[B]`` over its real tokens, as :class:`QuantumOutput` holds them."""
        return {
            "sense_entropy": masked_mean(sense_entropy(self.probabilities, attention_mask), attention_mask),
            "superposition": masked_mean(superposition_coherence(self.amplitudes, attention_mask), attention_mask),
        }


class QuantumEmbeddings(RoleTagged):
    """Token embeddings held as a superposition of ``num_states`` senses whose
    probabilities depend on the token's context.

    Every token id owns ``num_states`` sense vectors ``s_k = e + d_k`` (a vector ``e``
    shared by its senses plus a sense offset ``d_k``, small at the start) and prior
    amplitudes ``r`` (a context-free sense prior ``pi = r^2 / |r|^2``). With
    ``contextual=True`` (default) a token's sense distribution in its sentence is

        p_k = softmax_k(log pi_k + g <s_k, W c> / sqrt(D))

    where ``c`` is the mean of the (prior-mixed) embeddings of the other real tokens
    within ``context_window`` positions (the whole sequence when ``None``), ``W`` a
    learned projection and ``g`` a fixed gain (:data:`CONTEXT_GAIN`): the sense that agrees with the context gains probability, as in
    context-conditioned multi-sense embeddings. Its amplitudes are
    ``a_k = sign(r_k) sqrt(p_k)``. ``contextual=False`` keeps the context-free lookup
    ``p = pi`` (an ablation). The measures, collapse strategies and losses all read
    ``p``.

    In training each real token collapses with the collapse probability ``p_c`` (set by
    the trainer through :func:`qembed.nn.set_collapse_probability`) to the one sense its
    collapse strategy picks, as a one-hot choice with a straight-through gradient;
    otherwise it stays in superposition, the mixture ``sum_k p_k s_k``. ``collapse=False``
    never collapses (an ablation: the schedule then has no effect).

    In evaluation ``eval_collapse`` decides, deterministically: ``"expected"`` (default)
    uses the expected embedding of training's collapse at the current ``p_c``,
    ``p_c s_choice + (1 - p_c) sum_k p_k s_k`` (as dropout evaluates at its mean), so a
    model evaluates as it was last trained (for a strategy that samples in training,
    ``sample`` or ``gumbel``, ``s_choice`` is its evaluation choice, the most probable
    sense, not the mean of its draws); ``collapsed`` then marks every real token once
    ``p_c > 0``; ``True`` collapses every token; ``False``
    keeps every token in superposition. ``p_c`` is a buffer saved in the ``state_dict``, so a
    reloaded model evaluates as it was trained.

    Inside :func:`collapse_sampling` every real token is instead measured: it collapses
    to a sense drawn from ``p`` (the Born rule), independently per token and call;
    repeated forwards give the collapse samples from which qembed measures epistemic
    uncertainty.

    ``collapse_strategy`` is a registered name or spec (kind ``collapse``) or a built
    :class:`~qembed.nn.CollapseStrategy`. A strategy that ``uses_context`` gets the
    context agreement ``<s_k, W c> / sqrt(D)`` only from a context-free layer; in a
    contextual one the context is already in ``p``.

    ``sequential = True`` (the trainer's ``collapse_optimization="sequential"``)
    collapses and mixes one sequence at a time, each recomputed in backward, to hold
    one sequence's ``[T, K, D]`` senses instead of the batch's; the random draws are
    the same as batched.

    Parameter roles: amplitudes ``superposition``, context projection ``collapse``;
    the shared vectors and sense offsets are classical.
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
        eval_collapse: bool | str = "expected",
        contextual: bool = True,
        collapse: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim), ("num_states", num_states)):
            check_int(name, value, minimum=1)
        if context_window is not None:
            check_int("context_window", context_window, minimum=1)
        check_eval_collapse(eval_collapse)
        check_bool("contextual", contextual)
        check_bool("collapse", collapse)
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
        self.contextual = contextual
        self.collapse_enabled = collapse
        self.sequential = False  # collapse_optimization="sequential": one sequence at a time
        self.sampling = False  # inside collapse_sampling(): every token measured by the Born rule
        self.sampling_generator: torch.Generator | None = None  # what collapse_sampling() draws from
        # sense k of token w is s_wk = e_w + d_wk: small offsets, so an untrained token is
        # (nearly) one vector, learnt from all its occurrences, whose senses separate only
        # where the task pulls them apart
        self.token_embeddings = nn.Parameter(torch.randn(vocab_size, embedding_dim))
        self.sense_embeddings = nn.Parameter(SENSE_OFFSET_STD * torch.randn(vocab_size, num_states, embedding_dim))
        # near-uniform superposition at the start: every sense equally likely
        self.sense_amplitudes = nn.Parameter(1.0 + 0.1 * torch.randn(vocab_size, num_states))
        self.context_projection = nn.Linear(embedding_dim, embedding_dim, bias=False)
        nn.init.eye_(self.context_projection.weight)
        self.collapse = strategy
        # saved with the weights: "expected" evaluation of a reloaded model mixes as it was trained
        self.register_buffer("collapse_probability", torch.zeros(()))
        self.apply_roles()

    def set_collapse_probability(self, probability: float | Tensor) -> None:
        """Set ``p_c`` in place (no device sync; a buffer, so ``torch.compile`` does
        not recompile when it changes)."""
        with torch.no_grad():
            if isinstance(probability, Tensor):
                self.collapse_probability.copy_(probability)
            else:
                self.collapse_probability.fill_(probability)

    @property
    def samples_collapse(self) -> bool:
        """Whether :func:`collapse_sampling` draws anything here: a layer that never
        collapses, or has one sense, has nothing to sample."""
        return self.collapse_enabled and self.num_states > 1

    def amplitudes(self, input_ids: Tensor) -> Tensor:
        """Unit-norm context-free (prior) sense amplitudes ``[..., K]`` of the given token ids."""
        raw = nn.functional.embedding(input_ids, self.sense_amplitudes)
        return raw / torch.linalg.vector_norm(raw, dim=-1, keepdim=True).clamp_min(_EPS)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> SuperposedEmbedding:
        check_token_ids(input_ids, self.vocab_size)
        mask = check_attention_mask(attention_mask, input_ids)
        draws = torch.rand(mask.shape, device=mask.device) if self.training and not self.sampling else None
        if self.sampling or not (self.sequential and input_ids.dim() == 2 and torch.is_grad_enabled()):
            # (collapse samples are never recomputed: a recompute would draw other samples)
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
        """Sense distributions in context, then collapse (where ``draws < p_c``) and mix."""
        # F.embedding, not indexing: its CPU backward sums in a fixed order (indexing's
        # multi-threaded accumulation is not deterministic, which would break exact resume)
        flat = self.sense_embeddings.view(self.vocab_size, self.num_states * self.embedding_dim)
        senses = nn.functional.embedding(input_ids, flat).unflatten(-1, (self.num_states, self.embedding_dim))
        senses = senses + nn.functional.embedding(input_ids, self.token_embeddings).unsqueeze(-2)
        prior_amplitudes = self.amplitudes(input_ids)
        prior = prior_amplitudes * prior_amplitudes
        needs_agreement = self.contextual or self.collapse.uses_context
        agreement = self._context_agreement(senses, prior, mask) if needs_agreement else None
        if self.contextual:
            # in float32 whatever the model's dtype: in fp16 the clamp would be 0 and sqrt's gradient inf
            logits = prior.float().clamp_min(_TINY).log() + agreement.float()
            probabilities = torch.softmax(logits, dim=-1)
            signs = torch.where(prior_amplitudes < 0, -1.0, 1.0)
            amplitudes = (signs * probabilities.clamp_min(_TINY).sqrt()).to(prior.dtype)
            probabilities = probabilities.to(prior.dtype)
            agreement = None  # the context is in the probabilities already
        else:
            probabilities, amplitudes = prior, prior_amplitudes
        weights, collapsed = self._collapse_weights(probabilities, agreement, mask, draws)
        embeddings = _mix_senses(weights.to(senses.dtype), senses)
        return SuperposedEmbedding(embeddings, amplitudes, probabilities, weights, collapsed)

    def _collapse_weights(self, probabilities: Tensor, agreement: Tensor | None, mask: Tensor,
                          draws: Tensor | None) -> tuple[Tensor, Tensor]:
        """The sense weights ``[B, T, K]`` each token uses, and which tokens collapsed."""
        if not self.collapse_enabled:
            return probabilities, torch.zeros_like(mask)
        if self.sampling:
            drawn = torch.multinomial(probabilities.detach().float().reshape(-1, self.num_states), 1,
                                      generator=self.sampling_generator)
            choice = nn.functional.one_hot(drawn.view(mask.shape), self.num_states).to(probabilities.dtype)
            return torch.where(mask.unsqueeze(-1), choice, probabilities), mask
        choice = self.collapse(probabilities, agreement, mask).to(probabilities.dtype)
        if draws is not None:
            collapsed = (draws < self.collapse_probability) & mask
        elif self.eval_collapse == "expected":
            p_c = self.collapse_probability.to(probabilities.dtype)
            return p_c * choice + (1 - p_c) * probabilities, (p_c > 0) & mask
        else:
            collapsed = mask if self.eval_collapse else torch.zeros_like(mask)
        return torch.where(collapsed.unsqueeze(-1), choice, probabilities), collapsed

    def _context_agreement(self, senses: Tensor, probabilities: Tensor, mask: Tensor) -> Tensor:
        """``g <s_k, W c_t> / sqrt(D)``: how well each sense fits the token's context."""
        weight = mask.unsqueeze(-1).to(senses.dtype)
        superposed = _mix_senses(probabilities.to(senses.dtype), senses) * weight
        totals, counts = _window_sums(superposed, weight, self.context_window)
        context = (totals - superposed) / (counts - weight).clamp_min(1.0)
        projected = self.context_projection(context)
        agreement = (senses * projected.unsqueeze(-2)).sum(-1)  # <s_k, W c>, as _mix_senses (see there)
        return CONTEXT_GAIN * agreement / math.sqrt(self.embedding_dim)

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, embedding_dim={self.embedding_dim}, num_states={self.num_states}, "
            f"context_window={self.context_window}, eval_collapse={self.eval_collapse!r}, "
            f"contextual={self.contextual}, collapse={self.collapse_enabled}"
        )


def check_eval_collapse(value: Any) -> bool | str:
    """``value`` if it is one of :data:`EVAL_MODES`, else a ``ValueError`` naming them."""
    if not any(value is mode or (isinstance(value, str) and value == mode) for mode in EVAL_MODES):
        raise ValueError(f"eval_collapse must be one of {', '.join(map(repr, EVAL_MODES))}, got {value!r}")
    return value


def quantum_embedding_layers(model: nn.Module) -> list[QuantumEmbeddings]:
    """Every :class:`QuantumEmbeddings` inside ``model``."""
    return [module for module in model.modules() if isinstance(module, QuantumEmbeddings)]


@contextmanager
def collapse_sampling(model: nn.Module, generator: torch.Generator | None = None) -> Iterator[int]:
    """Inside the block every :class:`QuantumEmbeddings` of ``model`` measures each real
    token by the Born rule (a sense drawn from its contextual ``p``), in training and
    evaluation alike, drawing from ``generator`` (torch's global one when ``None``; it
    must be on the model's device); yields how many layers sample (0: nothing to sample,
    e.g. K = 1 or ``collapse=False``)."""
    layers = [layer for layer in quantum_embedding_layers(model) if layer.samples_collapse]
    for layer in layers:
        layer.sampling, layer.sampling_generator = True, generator
    try:
        yield len(layers)
    finally:
        for layer in layers:
            layer.sampling, layer.sampling_generator = False, None


@contextmanager
def evaluation_collapse(model: nn.Module, mode: bool | str) -> Iterator[None]:
    """Evaluate ``model`` with every :class:`QuantumEmbeddings` set to ``eval_collapse=mode``
    inside the block (their own setting comes back after)."""
    check_eval_collapse(mode)
    layers = quantum_embedding_layers(model)
    saved = [layer.eval_collapse for layer in layers]
    for layer in layers:
        layer.eval_collapse = mode
    try:
        yield
    finally:
        for layer, value in zip(layers, saved):
            layer.eval_collapse = value


def _mix_senses(weights: Tensor, senses: Tensor) -> Tensor:
    """``sum_k weights[..., k] senses[..., k, :]``, as a broadcast product and sum: the
    einsum's backward is one ``K x D`` outer product per token, run as tiny matrix products
    (fwd + bwd at B = 32, T = 128 on one CPU thread: 10 ms against 1.6 ms). It runs in the
    senses' dtype, float32 under autocast too (the einsum, a matrix product, ran in bfloat16
    there): a sum over ``K`` terms, cheap either way."""
    return (weights.unsqueeze(-1) * senses).sum(-2)


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
