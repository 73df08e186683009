"""``QuantumClassifier``: sequence classification on quantum embeddings."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from qembed.arguments import check_int
from qembed.models.encoder import EncoderModel, QuantumEncoder
from qembed.models.heads import prediction_uncertainty
from qembed.nn.measures import masked_mean
from qembed.nn.output import QuantumOutput


class QuantumClassifier(EncoderModel):
    """QuantumEmbeddings -> EntanglementLayer -> Transformer encoder -> masked mean
    pooling -> linear head.

    ``forward(input_ids, attention_mask=None, labels=None)`` returns a
    :class:`~qembed.nn.QuantumOutput` with ``logits`` ``[B, num_labels]``, the
    per-example uncertainty and quantum measures and, when ``labels`` are given, the
    cross-entropy ``loss``. ``encoder_options`` go to :class:`QuantumEncoder`: the
    ablation switches ``entanglement="none"``, ``collapse=False``, ``contextual=False``
    (and ``num_states=1``), ``eval_collapse``, ``collapse_strategy``, ``context_window``,
    ``top_k``.
    """

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embedding_dim: int = 64,
        num_states: int = 4,
        num_layers: int = 2,
        num_heads: int = 4,
        max_length: int = 512,
        entanglement: str = "dense",
        dropout: float = 0.1,
        **encoder_options: Any,
    ) -> None:
        super().__init__()
        check_int("num_labels", num_labels, minimum=2)
        self.num_labels = num_labels
        self.encoder = QuantumEncoder(vocab_size, embedding_dim, num_states, num_layers, num_heads, max_length,
                                      entanglement, dropout=dropout, **encoder_options)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                labels: Tensor | None = None) -> QuantumOutput:
        encoded = self.encoder(input_ids, attention_mask)
        pooled = masked_mean(encoded.hidden_states, encoded.attention_mask.unsqueeze(-1), dim=1)
        logits = self.head(self.dropout(pooled.to(encoded.hidden_states.dtype)))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return QuantumOutput(logits=logits, loss=loss, **encoded.quantum_fields(), **prediction_uncertainty(logits))
