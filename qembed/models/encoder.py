"""The shared backbone of qembed's models: quantum embeddings, entanglement, and
a small Transformer encoder, with optional gradient checkpointing."""

from __future__ import annotations

import os
from functools import partial
from typing import Any, NamedTuple

import attrs
import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from qembed.arguments import check_int, check_probability
from qembed.models.encoder_options import EncoderOptions, takes_encoder_options
from qembed.models.pretrained import PretrainedModel, saved_weights
from qembed.training.checkpoint_io import load_state_dict_checked
from qembed.nn.embeddings import QuantumEmbeddings, SuperposedEmbedding
from qembed.nn.entanglement import EntanglementLayer, EntanglementOutput
from qembed.nn.measures import masked_mean
from qembed.nn.validation import check_sequence_length


#: ``entanglement=`` of the encoders: a coupling mode of :class:`EntanglementLayer` (``"auto"``,
#: the default: dense below :data:`~qembed.nn.entanglement.AUTO_SPARSE_FROM` tokens, sparse from
#: there on), or none.
ENTANGLEMENT_CHOICES = ("auto", "dense", "sparse", "none")


class EncodedBatch(NamedTuple):
    hidden_states: Tensor  # [B, T, D] after the encoder's final norm
    attention_mask: Tensor  # [B, T] bool
    superposed: SuperposedEmbedding
    entangled: EntanglementOutput | None  # None without an entanglement layer

    def quantum_fields(self) -> dict[str, Tensor]:
        """Per-example measures and per-token detail for :class:`QuantumOutput`."""
        mask = self.attention_mask
        fields = {
            **self.superposed.per_example(mask),
            "hidden_states": self.hidden_states,
            "sense_probabilities": self.superposed.probabilities,
            "sense_weights": self.superposed.weights,
            "attention_mask": mask,
        }
        if self.entangled is not None:
            fields.update(
                entanglement=masked_mean(self.entangled.entanglement, self.entangled.pair_mask, dim=(-2, -1)),
                pair_entanglement=self.entangled.entanglement,
                pair_mask=self.entangled.pair_mask,
            )
        return fields


def check_block_options(embedding_dim: int, num_heads: int, num_layers: int, dropout: float,
                        attention_dropout: float | None, activation_dropout: float | None) -> None:
    """The checks of :func:`transformer_blocks`' options, for models that check everything first."""
    check_int("embedding_dim", embedding_dim, minimum=1)
    check_int("num_heads", num_heads, minimum=1)
    if embedding_dim % num_heads:
        raise ValueError(f"embedding_dim={embedding_dim} must be divisible by num_heads={num_heads}")
    check_int("num_layers", num_layers, minimum=0)
    check_probability("dropout", dropout, open_low=False, open_high=True)
    for name, value in (("attention_dropout", attention_dropout), ("activation_dropout", activation_dropout)):
        if value is not None:
            check_probability(name, value, open_low=False, open_high=True)


def transformer_blocks(embedding_dim: int, num_heads: int, num_layers: int, dropout: float,
                       attention_dropout: float | None, activation_dropout: float | None) -> nn.ModuleList:
    """``num_layers`` pre-norm Transformer encoder blocks (GELU, feed-forward ``4 D``), with
    ``dropout`` on their two residual branches, ``attention_dropout`` on the attention weights
    and ``activation_dropout`` after the feed-forward activation (as Hugging Face's BART names
    them); each of the two is ``dropout`` when ``None``."""
    check_block_options(embedding_dim, num_heads, num_layers, dropout, attention_dropout, activation_dropout)
    blocks = nn.ModuleList(
        nn.TransformerEncoderLayer(embedding_dim, num_heads, 4 * embedding_dim, dropout,
                                   activation="gelu", batch_first=True, norm_first=True)
        for _ in range(num_layers)
    )
    for block in blocks:
        block.self_attn.dropout = dropout if attention_dropout is None else attention_dropout
        block.dropout = nn.Dropout(dropout if activation_dropout is None else activation_dropout)
    return blocks


class QuantumEncoder(nn.Module):
    """``QuantumEmbeddings`` + learned positions -> ``EntanglementLayer`` ->
    ``num_layers`` pre-norm Transformer blocks -> final layer norm.

    Ablation switches: ``num_states=1`` (one sense per token), ``entanglement="none"``
    (no entanglement layer: no ``entanglement`` fields in the output),
    ``collapse=False`` (never collapse), ``contextual=False`` (context-free sense
    probabilities); see :class:`~qembed.nn.QuantumEmbeddings` for ``eval_collapse``. Its
    options are :class:`~qembed.models.encoder_options.EncoderOptions`; ``dropout`` applies to the
    embeddings, the entanglement layer's output and the blocks' residual branches,
    ``attention_dropout`` and ``activation_dropout`` inside the blocks (:func:`transformer_blocks`).
    """

    @takes_encoder_options(*attrs.fields_dict(EncoderOptions))  # every option, in their order
    def __init__(self, vocab_size: int, options: EncoderOptions) -> None:
        super().__init__()
        if options.entanglement not in ENTANGLEMENT_CHOICES:
            raise ValueError(f"entanglement must be one of {ENTANGLEMENT_CHOICES}, got {options.entanglement!r}")
        dim, dropout = options.embedding_dim, options.dropout
        check_block_options(dim, options.num_heads, options.num_layers, dropout, options.attention_dropout,
                            options.activation_dropout)
        check_int("max_length", options.max_length, minimum=1)
        self.max_length = options.max_length
        self.embeddings = QuantumEmbeddings(vocab_size, dim, options.num_states, options.collapse_strategy,
                                            context_window=options.context_window,
                                            eval_collapse=options.eval_collapse, contextual=options.contextual,
                                            collapse=options.collapse)
        self.positions = nn.Embedding(options.max_length, dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.entanglement = (None if options.entanglement == "none" else
                             EntanglementLayer(dim, options.num_states, mode=options.entanglement,
                                               top_k=options.top_k, dropout=dropout))
        self.blocks = transformer_blocks(dim, options.num_heads, options.num_layers, dropout,
                                         options.attention_dropout, options.activation_dropout)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.gradient_checkpointing = False

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> EncodedBatch:
        check_sequence_length(input_ids, self.max_length)
        superposed = self.embeddings(input_ids, attention_mask)
        mask = attention_mask.bool() if attention_mask is not None else torch.ones_like(input_ids, dtype=torch.bool)
        positions = self.positions.weight[: input_ids.shape[1]]
        hidden = self.dropout(superposed.embeddings + positions)
        entangled = None
        if self.entanglement is not None:
            entangled = self._run(self.entanglement, hidden, superposed.amplitudes, mask)
            hidden = entangled.hidden_states
        padding = ~mask
        for block in self.blocks:
            hidden = self._run(partial(block, src_key_padding_mask=padding), hidden)
        return EncodedBatch(self.norm(hidden), mask, superposed, entangled)

    def _run(self, function: Any, *args: Tensor) -> Any:
        """Call ``function``, recomputing it in backward when checkpointing (the RNG
        state is preserved, so dropout and collapse sampling repeat exactly)."""
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(function, *args, use_reentrant=False, preserve_rng_state=True)
        return function(*args)


class EncoderModel(PretrainedModel):
    """Base of the models built on a :class:`QuantumEncoder` (``self.encoder``): the
    Hugging Face style switches for gradient checkpointing, and loading a pre-trained encoder."""

    encoder: QuantumEncoder

    def gradient_checkpointing_enable(self) -> None:
        """Recompute the entanglement layer and encoder blocks in backward to save memory."""
        self.encoder.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        self.encoder.gradient_checkpointing = False

    def load_encoder(self, path: str | os.PathLike) -> None:
        """Load only the encoder from a saved qembed model of any :class:`EncoderModel` (a
        model folder, a run folder, a model file, a training checkpoint or a ``state_dict``),
        keeping this model's own head: pre-train a ``QuantumMaskedLM``, fine-tune a
        ``QuantumClassifier``. The encoders must have the same shape; what differs is named."""
        state = saved_weights(path)
        encoder = {key.removeprefix("encoder."): value for key, value in state.items() if key.startswith("encoder.")}
        if not encoder:
            raise ValueError(f"{str(path)!r} holds no encoder.* weights: it was not saved from a qembed EncoderModel")
        load_state_dict_checked(self.encoder, encoder, f"the encoder in {str(path)!r}")
