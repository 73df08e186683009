"""``QuantumMaskedLM``: masked-language-model pre-training on quantum embeddings."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from qembed.models.encoder import EncoderModel, QuantumEncoder
from qembed.metrics.sense import IGNORE_INDEX
from qembed.models.heads import prediction_uncertainty
from qembed.nn.output import QuantumOutput


class QuantumMaskedLM(EncoderModel):
    """The quantum encoder with a token-prediction head: ``logits`` ``[B, T, V]``.

    ``labels`` ``[B, T]`` hold the original ids at masked positions and ``-100``
    elsewhere (see ``qembed.data.MLMCollator``); the ``loss`` is the cross-entropy
    over the masked positions only.
    """

    def __init__(
        self,
        vocab_size: int,
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
        self.vocab_size = vocab_size
        self.encoder = QuantumEncoder(vocab_size, embedding_dim, num_states, num_layers, num_heads, max_length,
                                      entanglement, dropout=dropout, **encoder_options)
        self.head = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim), nn.GELU(), nn.LayerNorm(embedding_dim),
            nn.Linear(embedding_dim, vocab_size),
        )

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                labels: Tensor | None = None) -> QuantumOutput:
        encoded = self.encoder(input_ids, attention_mask)
        logits = self.head(encoded.hidden_states)
        loss = None
        scored = encoded.attention_mask
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)}, "
                                 f"got {tuple(labels.shape)}")
            loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(),
                                               ignore_index=IGNORE_INDEX)
            scored = labels != IGNORE_INDEX
        return QuantumOutput(logits=logits, loss=loss, **encoded.quantum_fields(),
                             **prediction_uncertainty(logits, scored))
