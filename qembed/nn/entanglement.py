"""``EntanglementLayer``: tokens coupled through a learned K x K coupling.

Token ``i`` with unit amplitudes ``a_i`` and token ``j`` with ``a_j`` share the joint
state (a K x K amplitude matrix of unit Frobenius norm)

    Psi_ij = (a_i a_j^T + t_ij Q) / ||a_i a_j^T + t_ij Q||_F

where ``Q`` is a learned orthogonal coupling and ``t_ij >= 0`` a coupling strength
computed from the two tokens' hidden states. ``t = 0`` gives the product state
(entanglement 0); a strong coupling approaches the maximally entangled ``Q / sqrt(K)``
(entanglement 1). Information flows between positions in proportion to their
entanglement: ``h_i += W_o sum_j softmax_j(s_ij) E_ij V h_j``.

The entanglement entropy of this family has a closed form (no SVD per pair):
``Psi Q^T`` is ``a c^T + t I`` with ``c = Q a_j``, whose Gram matrix has eigenvalue
``t^2`` on the ``K - 2`` directions orthogonal to ``a`` and ``c`` and two more that
solve a quadratic. It equals :func:`qembed.nn.entanglement_entropy` of the explicit
state (tested).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from qembed.arguments import check_int
from qembed.nn.roles import RoleTagged

_TINY = torch.finfo(torch.float32).tiny
MODES = ("auto", "dense", "sparse")

#: ``mode="auto"`` couples sequences shorter than this densely and longer ones (this long or
#: more) sparsely. Set at the crossover measured by ``benchmarks/model_speed.py`` when "auto"
#: became the default (the layer alone, forward + backward, B = 32, D = 64, K = 4, top-16, one CPU
#: thread: the two met at T = 128). Since sparse mode scores and mixes its pairs through matrix
#: products it is faster from T = 64 (1.03x there, 1.4x at 128; ``benchmarks/README.md``, "Model
#: speed"), but the threshold stays: it decides what a model computes (dense and sparse top-16
#: differ once T > 17), so lowering it would change the outputs of every model trained with "auto"
#: on 64-127 tokens, and no benchmark here measures accuracy at those lengths. The embedded
#: corpus's sentences (at most 24 tokens) stay dense.
AUTO_SPARSE_FROM = 128

#: Dense mode couples at most about this many pairs (batch x query rows x length) at a time.
#: Coupled whole, every intermediate of the closed form is a ``[B, T, T]`` tensor: from
#: T = 512 at B = 32 (32 MiB each) the allocator maps and faults in fresh pages for each
#: one, and the layer's time grew as T^2.7 from T = 256 to 1024 (0.24 s to 9.9 s;
#: ``benchmarks/model_speed.py --dense-block-pairs 0``). In blocks of query rows the
#: intermediates stay small enough to be reused: T^2.0 (0.18 s to 2.7 s). The result is the
#: same (one block whenever ``B T^2`` fits, as at every length of the embedded corpus, so
#: that computation is unchanged bit for bit).
DENSE_BLOCK_PAIRS = 2**20


class EntanglementOutput(NamedTuple):
    """What :class:`EntanglementLayer` returns; ``P`` pairs per token (``T`` when
    dense, ``top_k`` when sparse).

    With ``memory_efficient=True`` the pairs come summarised per token instead:
    ``entanglement`` and ``pair_mask`` are ``[B, 2T, 1]``; rows ``:T`` hold each token's
    mean entanglement over its real partners (``pair_mask``: the token has one), rows
    ``T:`` its mean *squared* entanglement (``pair_mask`` all False, so masked means
    skip them). A token's number of partners is the number of other tokens of its
    example that have partners. :func:`pair_summary` reads the three back.
    """

    hidden_states: Tensor  # [B, T, D]
    entanglement: Tensor  # [B, T, P] entanglement entropy of each pair, in [0, 1]
    partners: Tensor  # [B, T, P] position of each pair's partner
    pair_mask: Tensor  # [B, T, P] bool: a real pair (both tokens real, not the token itself)
    mixing: Tensor  # [B, T, P] how much of the partner flows in (attention x entanglement)


def coupled_state_entanglement(strength: Tensor, overlap: Tensor, num_states: int) -> Tensor:
    """Entanglement entropy of ``Psi = a b^T + t Q`` in closed form, normalised by ``log K``.

    ``strength`` is ``t >= 0``; ``overlap`` is ``u = a . (Q b)`` for unit ``a``, ``b``.
    The Schmidt weights (squared singular values over ``||Psi||_F^2``) are
    ``lambda_+``, ``lambda_-`` (roots of ``x^2 - S x + P`` with
    ``S = 1 + 2tu + 2t^2`` and ``P = t^2 (t + u)^2``) and ``t^2`` taken ``K - 2``
    times, all over ``1 + 2tu + K t^2``.
    """
    if num_states < 2:
        return torch.zeros_like(strength, dtype=torch.float32)
    t = strength.float()
    u = overlap.float().clamp(-1.0, 1.0)
    total = 1.0 + 2.0 * t * u + num_states * t * t
    s = 1.0 + 2.0 * t * u + 2.0 * t * t
    p = (t * (t + u)) ** 2
    root = (s * s - 4.0 * p).clamp_min(1e-12).sqrt()
    high = (s + root) / 2.0
    low = 2.0 * p / (s + root)  # = (s - root) / 2 without cancellation

    def plogp(weight: Tensor) -> Tensor:
        return weight * weight.clamp_min(_TINY).log()

    entropy = -(plogp(high / total) + plogp(low / total) + (num_states - 2) * plogp(t * t / total))
    return (entropy / math.log(num_states)).clamp(0.0, 1.0)


class EntanglementLayer(RoleTagged):
    """Couples every token with its partners and mixes information along the
    entangled pairs.

    ``mode="dense"`` couples all pairs (``O(T^2)`` time and memory);
    ``mode="sparse"`` couples each token with the ``top_k`` partners of highest
    coupling score (``O(T * top_k)`` memory saved for backward; partners are chosen, and
    their values mixed, in chunks of ``chunk_size`` query positions through matrix
    products against every token, recomputed in backward, so its time still grows as
    ``T^2``, with a small constant). With ``top_k >= T - 1`` both give the same result.
    ``mode="auto"`` chooses per forward from the sequence length: dense below
    :data:`AUTO_SPARSE_FROM` tokens, sparse from there on (the same parameters either
    way; the length is a static shape, so a compiled model compiles each path it
    meets). All parameters have the role ``entanglement``.

    ``memory_efficient=True`` (dense mode, and auto mode when dense) couples ``chunk_size`` query rows at a time,
    recomputing each chunk in backward, and reports per token the mean and the mean
    square of its pairs' entanglement instead of every pair (see
    :class:`EntanglementOutput`), so peak memory grows with ``chunk_size * T`` rather
    than ``T^2``; the mixed hidden states are the same, and so are the per-pair means a
    loss takes (the built-in losses read the summary with :func:`pair_summary`).
    """

    parameter_roles = {"query": "entanglement", "key": "entanglement", "value": "entanglement",
                       "output": "entanglement", "coupling_generator": "entanglement",
                       "coupling_bias": "entanglement"}
    parameter_projections = {"coupling_generator": "_skew_symmetrize"}

    def __init__(
        self,
        embedding_dim: int,
        num_states: int,
        mode: str = "dense",
        top_k: int = 16,
        dropout: float = 0.0,
        chunk_size: int = 256,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, value in (("embedding_dim", embedding_dim), ("num_states", num_states),
                            ("top_k", top_k), ("chunk_size", chunk_size)):
            check_int(name, value, minimum=1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.embedding_dim = embedding_dim
        self.num_states = num_states
        self.mode = mode
        self.top_k = top_k
        self.chunk_size = chunk_size
        self.memory_efficient = memory_efficient
        self.query = nn.Linear(embedding_dim, embedding_dim)
        self.key = nn.Linear(embedding_dim, embedding_dim)
        self.value = nn.Linear(embedding_dim, embedding_dim)
        self.output = nn.Linear(embedding_dim, embedding_dim)
        # Q = exp(A - A^T) is orthogonal for any A; A = 0 starts at the identity
        self.coupling_generator = nn.Parameter(0.01 * torch.randn(num_states, num_states))
        self.coupling_bias = nn.Parameter(torch.zeros(()))
        self.dropout = nn.Dropout(dropout)
        self.apply_roles()

    def coupling(self) -> Tensor:
        """The orthogonal K x K coupling ``Q = exp(A - A^T)`` of the generator ``A``."""
        generator = self.coupling_generator.float()
        return torch.linalg.matrix_exp(generator - generator.T)

    @staticmethod
    def _skew_symmetrize(generator: Tensor) -> None:
        """Project the generator onto the skew-symmetric matrices, ``A <- (A - A^T) / 2``.

        ``Q`` depends only on ``A - A^T``; the projection keeps the coupling where it
        is while removing the symmetric part, which only weight decay and noise move."""
        generator.copy_((generator - generator.T) / 2)

    def forward(self, hidden_states: Tensor, amplitudes: Tensor, attention_mask: Tensor | None = None) -> EntanglementOutput:
        """``hidden_states`` ``[B, T, D]``, unit ``amplitudes`` ``[B, T, K]``, mask ``[B, T]``."""
        batch, length, _ = hidden_states.shape
        if amplitudes.shape[:2] != (batch, length) or amplitudes.shape[-1] != self.num_states:
            raise ValueError(
                f"amplitudes must be [batch, length, num_states={self.num_states}] matching hidden states "
                f"{tuple(hidden_states.shape)}, got {tuple(amplitudes.shape)}"
            )
        mask = (torch.ones(batch, length, dtype=torch.bool, device=hidden_states.device)
                if attention_mask is None else attention_mask.bool())
        query, key, value = self.query(hidden_states), self.key(hidden_states), self.value(hidden_states)
        rotated = amplitudes.float() @ self.coupling().T  # c_j = Q a_j
        mode = self.mode_for(length)
        if mode == "dense" and self.memory_efficient:
            mixed, means, squares, has_partners = self._dense_in_chunks(query, key, value, amplitudes, rotated, mask)
            partners = torch.arange(length, device=mask.device).view(1, length, 1).expand(batch, length, 1)
            mixing = means * has_partners
            entanglement = torch.cat([means, squares], dim=1)
            pair_mask = torch.cat([has_partners, torch.zeros_like(has_partners)], dim=1)
        elif mode == "dense":
            mixed, entanglement, pair_mask, mixing = self._dense_blocks(query, key, value, amplitudes, rotated, mask)
            partners = torch.arange(length, device=mask.device).expand(batch, length, length)
        else:
            partners, scores, overlap = self._top_pairs(query, key, amplitudes, rotated, mask)
            own = torch.arange(length, device=mask.device).view(1, length, 1)
            partner_real = _gather_positions(mask.unsqueeze(-1), partners).squeeze(-1)
            pair_mask = partner_real & mask.unsqueeze(-1) & (partners != own)
            entanglement, mixing = self._couple(scores, overlap, pair_mask)
            mixed = self._mix_pairs(mixing, partners, value)
        hidden = hidden_states + self.dropout(self.output(mixed))
        return EntanglementOutput(hidden, entanglement, partners, pair_mask, mixing)

    def mode_for(self, length: int) -> str:
        """``"dense"`` or ``"sparse"``: how a sequence of ``length`` tokens is coupled."""
        if self.mode != "auto":
            return self.mode
        return "dense" if length < AUTO_SPARSE_FROM else "sparse"

    def _couple(self, scores: Tensor, overlap: Tensor, pair_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Pair entanglement from coupling scores and overlaps, and the mixing weights."""
        strength = nn.functional.softplus(scores.float() + self.coupling_bias)
        entanglement = coupled_state_entanglement(strength, overlap, self.num_states)
        return entanglement, _masked_softmax(scores, pair_mask) * entanglement.to(scores.dtype)

    def _dense_rows(self, query: Tensor, key: Tensor, value: Tensor, amplitudes: Tensor, rotated: Tensor,
                    mask: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Dense coupling of the tokens at positions ``rows`` (``query`` and
        ``amplitudes`` hold just those rows) with every token."""
        positions = torch.arange(key.shape[1], device=mask.device)
        pair_mask = mask[:, rows].unsqueeze(-1) & mask.unsqueeze(1) & (rows.view(1, -1, 1) != positions.view(1, 1, -1))
        scores = query @ key.transpose(1, 2) / math.sqrt(self.embedding_dim)
        overlap = amplitudes.float() @ rotated.transpose(1, 2)
        entanglement, mixing = self._couple(scores, overlap, pair_mask)
        return mixing.to(value.dtype) @ value, entanglement, pair_mask, mixing

    def _dense_blocks(self, query: Tensor, key: Tensor, value: Tensor, amplitudes: Tensor, rotated: Tensor,
                      mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Dense coupling of all pairs, in blocks of query rows of about
        :data:`DENSE_BLOCK_PAIRS` pairs each (one block when they all fit)."""
        batch, length = mask.shape
        rows = max(1, DENSE_BLOCK_PAIRS // (batch * length))
        if rows >= length:
            return self._dense_rows(query, key, value, amplitudes, rotated, mask,
                                    torch.arange(length, device=mask.device))
        blocks = [self._dense_rows(query[:, start:start + rows], key, value, amplitudes[:, start:start + rows],
                                   rotated, mask, torch.arange(start, min(start + rows, length), device=mask.device))
                  for start in range(0, length, rows)]
        mixed, entanglement, pair_mask, mixing = (torch.cat(parts, dim=1) for parts in zip(*blocks))
        return mixed, entanglement, pair_mask, mixing

    def _dense_in_chunks(self, query: Tensor, key: Tensor, value: Tensor, amplitudes: Tensor, rotated: Tensor,
                         mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Dense coupling ``chunk_size`` query rows at a time, each chunk recomputed in
        backward, keeping per token only the mean and the mean square of its pairs'
        entanglement (and whether it has partners): peak memory grows with
        ``chunk_size * T``, not ``T^2``."""

        def rows_of(start: int, stop: int, query: Tensor, amplitudes: Tensor, key: Tensor, value: Tensor,
                    rotated: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
            rows = torch.arange(start, stop, device=mask.device)
            mixed, entanglement, pair_mask, _ = self._dense_rows(query, key, value, amplitudes, rotated, mask, rows)
            partners = pair_mask.sum(-1, keepdim=True)
            real = torch.where(pair_mask, entanglement, torch.zeros_like(entanglement))
            mean = real.sum(-1, keepdim=True) / partners.clamp_min(1)
            square = real.square().sum(-1, keepdim=True) / partners.clamp_min(1)
            return mixed, mean, square, partners > 0

        chunks = []
        for start in range(0, query.shape[1], self.chunk_size):
            stop = min(start + self.chunk_size, query.shape[1])
            arguments = (start, stop, query[:, start:stop], amplitudes[:, start:stop], key, value, rotated)
            if torch.is_grad_enabled():
                chunks.append(checkpoint(rows_of, *arguments, use_reentrant=False))
            else:
                chunks.append(rows_of(*arguments))
        mixed, means, squares, has_partners = (torch.cat(parts, dim=1) for parts in zip(*chunks))
        return mixed, means, squares, has_partners

    def joint_states(self, hidden_states: Tensor, amplitudes: Tensor, partners: Tensor) -> Tensor:
        """The explicit unit-norm joint states ``Psi`` ``[B, T, P, K, K]`` of the pairs
        ``(i, partners[i])`` (for inspection and tests; the forward pass never builds them)."""
        query, key = self.query(hidden_states), _gather_positions(self.key(hidden_states), partners)
        scores = torch.einsum("btd,btpd->btp", query, key) / math.sqrt(self.embedding_dim)
        strength = nn.functional.softplus(scores.float() + self.coupling_bias)
        a = amplitudes.float()
        b = _gather_positions(a, partners)
        psi = torch.einsum("btk,btpl->btpkl", a, b) + strength[..., None, None] * self.coupling()
        return psi / torch.linalg.matrix_norm(psi).clamp_min(_TINY)[..., None, None]

    def _top_pairs(self, query: Tensor, key: Tensor, amplitudes: Tensor, rotated: Tensor,
                   mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Each token's ``top_k`` highest-scoring partners ``[B, T, P]``, with the pairs'
        coupling scores and overlaps ``[B, T, P]``.

        ``chunk_size`` query rows at a time, the scores and overlaps of a chunk are computed
        against every token as matrix products (as dense mode computes them) and the chosen
        pairs' values taken from them, recomputed in backward: no ``T x T`` matrix is held
        beyond its chunk or saved for backward, and no ``[B, T, P, D]`` keys are gathered."""
        length = query.shape[1]
        count = max(1, min(self.top_k, length - 1))
        positions = torch.arange(length, device=query.device)
        chunks = []
        for start in range(0, length, self.chunk_size):
            stop = min(start + self.chunk_size, length)
            rows, row_amplitudes = query[:, start:stop], amplitudes[:, start:stop]
            allowed = mask.unsqueeze(1) & (positions.view(1, 1, -1) != positions[start:stop].view(1, -1, 1))
            with torch.no_grad():
                products = rows @ key.transpose(1, 2)
                partners = products.masked_fill_(~allowed, float("-inf")).topk(count, dim=-1).indices
            arguments = (rows, key, row_amplitudes, rotated, partners)
            # recomputed in backward: a gather saves its whole input, the chunk's [B, rows, T] matrices
            values = (checkpoint(_pair_values, *arguments, use_reentrant=False, preserve_rng_state=False)
                      if torch.is_grad_enabled() else _pair_values(*arguments))
            chunks.append((partners, *values))
        partners, products, overlap = (torch.cat(parts, dim=1) for parts in zip(*chunks))
        # scaled after the gather (the same values as dense mode's, on P pairs instead of T)
        return partners, products / math.sqrt(self.embedding_dim), overlap

    def _mix_pairs(self, mixing: Tensor, partners: Tensor, value: Tensor) -> Tensor:
        """``sum_p mixing[b, t, p] value[b, partners[b, t, p]]`` ``[B, T, D]``.

        ``chunk_size`` query rows at a time, the rows' pair weights are scattered into a
        ``[B, rows, T]`` matrix and multiplied with ``value``: matrix products instead of
        ``[B, T, P, D]`` gathered values (which a CPU moves several times slower). Each chunk
        is recomputed in backward, so only the ``[B, T, P]`` weights and partners are saved."""
        parts = []
        for start in range(0, mixing.shape[1], self.chunk_size):
            arguments = (mixing[:, start:start + self.chunk_size], partners[:, start:start + self.chunk_size], value)
            if torch.is_grad_enabled():
                parts.append(checkpoint(_scatter_product, *arguments, use_reentrant=False, preserve_rng_state=False))
            else:
                parts.append(_scatter_product(*arguments))
        return torch.cat(parts, dim=1)

    def extra_repr(self) -> str:
        return (f"embedding_dim={self.embedding_dim}, num_states={self.num_states}, mode={self.mode!r}, "
                f"top_k={self.top_k}")


def pair_summary(entanglement: Tensor, pair_mask: Tensor,
                 length: int) -> tuple[Tensor, Tensor, Tensor] | None:
    """``(means, mean squares, partner counts)`` per token, each ``[B, T]``, when
    ``entanglement`` / ``pair_mask`` are the per-token summary a memory-efficient
    :class:`EntanglementLayer` reports for sequences of ``length`` tokens
    (``[B, 2 * length, 1]``); ``None`` for per-pair values (``[B, length, P]``).

    A token's partners are the other tokens of its example that have partners, so the
    count needs nothing else; the mean over all pairs is ``sum(counts * means) /
    sum(counts)``, exactly what dense mode's mean over ``pair_mask`` gives.
    """
    if entanglement.dim() != 3 or entanglement.shape[-1] != 1 or entanglement.shape[-2] != 2 * length:
        return None
    has_partners = pair_mask[:, :length, 0].bool()
    counts = has_partners * (has_partners.sum(-1, keepdim=True) - 1).clamp_min(0)
    return entanglement[:, :length, 0], entanglement[:, length:, 0], counts


def _gather_positions(values: Tensor, partners: Tensor) -> Tensor:
    """``values[b, partners[b, t, p]]`` for ``values`` ``[B, T, F]``: ``[B, T, P, F]``."""
    batch, length, features = values.shape
    offsets = (torch.arange(batch, device=values.device) * length).view(batch, 1, 1)
    flat = values.reshape(batch * length, features)
    return flat[(partners + offsets).reshape(-1)].reshape(*partners.shape, features)


def _pair_values(query: Tensor, key: Tensor, amplitudes: Tensor, rotated: Tensor,
                 partners: Tensor) -> tuple[Tensor, Tensor]:
    """The products ``q_i . k_j`` and overlaps ``a_i . c_j`` ``[B, R, P]`` of the pairs
    ``(i, partners[i])``, taken from the ``[B, R, T]`` matrices against every token."""
    products = (query @ key.transpose(1, 2)).gather(-1, partners)
    return products, (amplitudes.float() @ rotated.transpose(1, 2)).gather(-1, partners)


def _scatter_product(weights: Tensor, partners: Tensor, value: Tensor) -> Tensor:
    """``weights`` ``[B, R, P]`` at columns ``partners`` of a ``[B, R, T]`` zero matrix, times
    ``value`` ``[B, T, D]``."""
    dense = torch.zeros(*partners.shape[:2], value.shape[1], dtype=value.dtype, device=value.device)
    return dense.scatter_add_(-1, partners, weights.to(value.dtype)) @ value


def _masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dimension among masked-in entries; all-zero rows where none."""
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=-1) * mask.to(scores.dtype)
