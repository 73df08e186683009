"""``QuantumClassifier``: sequence classification on quantum embeddings."""

from __future__ import annotations

import attrs
from torch import Tensor, nn

from qembed.arguments import check_int
from qembed.models.encoder import EncoderModel, QuantumEncoder
from qembed.models.encoder_options import MODEL_POSITIONAL, EncoderOptions, takes_encoder_options
from qembed.models.heads import prediction_uncertainty
from qembed.nn.measures import masked_mean
from qembed.nn.output import QuantumOutput


class QuantumClassifier(EncoderModel):
    """QuantumEmbeddings -> EntanglementLayer -> Transformer encoder -> masked mean
    pooling -> linear head.

    ``forward(input_ids, attention_mask=None, labels=None)`` returns a
    :class:`~qembed.nn.QuantumOutput` with ``logits`` ``[B, num_labels]``, the
    per-example uncertainty and quantum measures and, when ``labels`` are given, the
    cross-entropy ``loss``. The other arguments are the :class:`QuantumEncoder`'s
    (:class:`~qembed.models.encoder_options.EncoderOptions`), with its ablation switches
    ``entanglement="none"``, ``collapse=False``, ``contextual=False`` (and
    ``num_states=1``), ``eval_collapse``, ``collapse_strategy``, ``context_window``, ``top_k``.
    """

    @takes_encoder_options(*MODEL_POSITIONAL)
    def __init__(self, vocab_size: int, num_labels: int, options: EncoderOptions) -> None:
        super().__init__()
        check_int("num_labels", num_labels, minimum=2)
        self.num_labels = num_labels
        self.encoder = QuantumEncoder(vocab_size, **attrs.asdict(options, recurse=False))
        self.dropout = nn.Dropout(options.dropout)
        self.head = nn.Linear(options.embedding_dim, num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                labels: Tensor | None = None) -> QuantumOutput:
        encoded = self.encoder(input_ids, attention_mask)
        pooled = masked_mean(encoded.hidden_states, encoded.attention_mask.unsqueeze(-1), dim=1)
        logits = self.head(self.dropout(pooled.to(encoded.hidden_states.dtype)))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return QuantumOutput(logits=logits, loss=loss, **encoded.quantum_fields(), **prediction_uncertainty(logits))
