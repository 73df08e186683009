"""``QuantumMaskedLM``: masked-language-model pre-training on quantum embeddings."""

from __future__ import annotations

import attrs
from torch import Tensor, nn

from qembed.models.encoder import EncoderModel, QuantumEncoder
from qembed.models.encoder_options import MODEL_POSITIONAL, EncoderOptions, takes_encoder_options
from qembed.metrics.sense import IGNORE_INDEX
from qembed.models.heads import prediction_uncertainty
from qembed.nn.output import QuantumOutput


class QuantumMaskedLM(EncoderModel):
    """The quantum encoder with a token-prediction head: ``logits`` ``[B, T, V]``.

    ``labels`` ``[B, T]`` hold the original ids at masked positions and ``-100``
    elsewhere (see ``qembed.data.MLMCollator``); the ``loss`` is the cross-entropy
    over the masked positions only. The other arguments are the :class:`QuantumEncoder`'s
    (:class:`~qembed.models.encoder_options.EncoderOptions`).
    """

    @takes_encoder_options(*MODEL_POSITIONAL)
    def __init__(self, vocab_size: int, options: EncoderOptions) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.encoder = QuantumEncoder(vocab_size, **attrs.asdict(options, recurse=False))
        dim = options.embedding_dim
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim), nn.Linear(dim, vocab_size))

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
