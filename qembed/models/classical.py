"""``ClassicalClassifier``: the classical baseline of ``QuantumClassifier``."""

from __future__ import annotations

from torch import Tensor, nn

from qembed.arguments import check_int
from qembed.models.encoder import check_block_options, transformer_blocks
from qembed.models.heads import prediction_uncertainty
from qembed.models.init_options import records_init_options
from qembed.models.pretrained import PretrainedModel
from qembed.nn.measures import masked_mean
from qembed.nn.output import QuantumOutput
from qembed.nn.validation import check_attention_mask, check_sequence_length, check_token_ids


class ClassicalClassifier(PretrainedModel):
    """``nn.Embedding`` + learned positions -> ``num_layers`` pre-norm Transformer
    blocks -> final layer norm -> masked mean pooling -> linear head.

    The same encoder blocks, pooling and head as :class:`QuantumClassifier`, with one
    vector per token and no entanglement layer: the baseline a quantum model must
    beat. ``num_layers=3`` (default) gives it one more block than the quantum model's
    default 2, in place of its entanglement layer, so both mix tokens through the same
    number of layers; compare parameter counts with
    ``sum(p.numel() for p in model.parameters())``. Its output holds ``logits``,
    ``loss`` (with ``labels``), ``uncertainty`` and ``predictive_entropy``; it has no
    quantum fields, so the trainer trains it like any model. Its dropout options are the quantum
    models' (``docs/models.md``, "Dropout").
    """

    @records_init_options
    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embedding_dim: int = 64,
        num_layers: int = 3,
        num_heads: int = 4,
        max_length: int = 512,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        activation_dropout: float | None = None,
    ) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, minimum=1)
        check_int("num_labels", num_labels, minimum=2)
        check_block_options(embedding_dim, num_heads, num_layers, dropout, attention_dropout, activation_dropout)
        check_int("max_length", max_length, minimum=1)
        self.vocab_size = vocab_size
        self.num_labels = num_labels
        self.max_length = max_length
        self.embeddings = nn.Embedding(vocab_size, embedding_dim)
        nn.init.normal_(self.embeddings.weight)  # as QuantumEmbeddings' sense vectors
        self.positions = nn.Embedding(max_length, embedding_dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.blocks = transformer_blocks(embedding_dim, num_heads, num_layers, dropout, attention_dropout,
                                         activation_dropout)
        self.norm = nn.LayerNorm(embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                labels: Tensor | None = None) -> QuantumOutput:
        check_token_ids(input_ids, self.vocab_size)
        check_sequence_length(input_ids, self.max_length)
        mask = check_attention_mask(attention_mask, input_ids)
        hidden = self.dropout(self.embeddings(input_ids) + self.positions.weight[: input_ids.shape[1]])
        for block in self.blocks:
            hidden = block(hidden, src_key_padding_mask=~mask)
        hidden = self.norm(hidden)
        pooled = masked_mean(hidden, mask.unsqueeze(-1), dim=1)
        logits = self.head(self.dropout(pooled.to(hidden.dtype)))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return QuantumOutput(logits=logits, loss=loss, hidden_states=hidden, attention_mask=mask,
                             **prediction_uncertainty(logits))
