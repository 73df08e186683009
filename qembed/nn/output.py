"""``QuantumOutput``: what a qembed model returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from torch import Tensor


@dataclasses.dataclass
class QuantumOutput:
    """Model output: ``logits`` always, the rest when the model computes them.

    Per example (``[B]``, each in [0, 1]):

    - ``uncertainty``: the model's predictive uncertainty, the normalised entropy of
      its prediction (``predictive_entropy`` for one forward; the trainer's evaluation
      replaces it by the entropy of the prediction averaged over collapse samples);
    - ``predictive_entropy``: ``H(softmax(logits)) / log C`` of this forward (for
      token-level logits, the mean over the scored tokens);
    - ``mutual_information``: the epistemic part of ``uncertainty``, the disagreement
      between collapse samples (set by evaluation with collapse samples, else ``None``);
    - ``sense_entropy``, ``superposition``, ``entanglement``: mean sense entropy, mean
      superposition coherence and mean pair entanglement over the example's real tokens.

    ``sense_weights`` ``[B, T, K]`` are the weights each token used (one-hot where it
    collapsed) and ``sense_probabilities`` its sense distribution in context;
    ``pair_entanglement`` and ``pair_mask`` ``[B, T, P]`` hold every coupled pair.
    ``sample_logits`` ``[S, *logits.shape]`` holds the logits of S collapse samples of
    the same batch when a loss asks for them (the trainer fills it). Fields can also be
    read as ``output["logits"]``, as with Hugging Face outputs.
    """

    logits: Tensor
    loss: Tensor | None = None
    uncertainty: Tensor | None = None
    superposition: Tensor | None = None
    entanglement: Tensor | None = None
    hidden_states: Tensor | None = None
    sense_probabilities: Tensor | None = None
    sense_weights: Tensor | None = None
    pair_entanglement: Tensor | None = None
    pair_mask: Tensor | None = None
    attention_mask: Tensor | None = None
    sample_logits: Tensor | None = None
    sense_entropy: Tensor | None = None
    predictive_entropy: Tensor | None = None
    mutual_information: Tensor | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(f"QuantumOutput has no field {key!r}; fields: {', '.join(self.__dataclass_fields__)}")
        return getattr(self, key)

    def keys(self) -> Iterator[str]:
        """Names of the fields that are set (not ``None``)."""
        return (f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)
