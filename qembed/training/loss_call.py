"""How the trainer calls a loss, decided once from its ``forward`` signature.

- A loss with ``loss_terms(outputs, labels)`` (the built-ins) reports its parts.
- A loss whose first parameter is ``outputs``, or that names ``uncertainty``,
  ``entanglement`` or ``superposition``, receives the model output object and
  those fields, as the seed's ``QuantumAwareLoss(outputs, labels, uncertainty=None)``
  expects.
- Any other loss (``nn.CrossEntropyLoss()``, a third-party focal loss) receives
  the logits; token-level logits ``[B, T, C]`` with labels ``[B, T]`` are flattened
  to ``[B*T, C]`` and ``[B*T]`` (``-100`` stays ignored by cross-entropy).
"""

from __future__ import annotations

import inspect
from typing import Any, cast

import torch
from torch import Tensor, nn

from qembed.plugins.contracts import ReportsTerms
from qembed.training.batches import field, flatten_token_level
from qembed.training.loss_terms import LossTerms

QUANTUM_FIELDS = ("uncertainty", "entanglement", "superposition")


class LossCall:
    """Calls ``loss_fn`` the way its signature asks; always returns :class:`LossTerms`."""

    def __init__(self, loss_fn: nn.Module) -> None:
        self.loss_fn = loss_fn
        self.reports_terms = callable(getattr(loss_fn, "loss_terms", None))
        forward = getattr(loss_fn, "forward", loss_fn)
        names = [
            p.name for p in inspect.signature(forward).parameters.values()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        self.fields = [name for name in names if name in QUANTUM_FIELDS]
        self.takes_outputs = bool(names) and names[0] == "outputs" or bool(self.fields)
        samples = getattr(loss_fn, "mc_samples", 0) or 0
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise ValueError(f"loss attribute mc_samples must be an integer >= 0, got {samples!r}")
        self.mc_samples = samples

    def __call__(self, outputs: Any, labels: Tensor) -> LossTerms:
        if self.reports_terms:
            return cast(ReportsTerms, self.loss_fn).loss_terms(outputs, labels)
        if self.takes_outputs:
            extras = {name: getattr(outputs, name, None) for name in self.fields}
            value = self.loss_fn(outputs, labels, **extras)
        else:
            value = self.loss_fn(*flatten_token_level(outputs.logits.float(), labels))
        if not isinstance(value, Tensor) or value.dim() != 0:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"the loss must return a scalar tensor, got {shape}")
        return LossTerms(value, value, torch.zeros((), device=value.device))


def with_uncertainty_penalty(terms: LossTerms, outputs: Any, weight: float) -> LossTerms:
    """``terms`` plus ``weight * mean(uncertainty)`` as a quantum term (the
    ``uncertainty_regularization`` key), when the output has an ``uncertainty``."""
    uncertainty = field(outputs, "uncertainty")
    if not weight or uncertainty is None:
        return terms
    penalty = weight * uncertainty.float().mean()
    return LossTerms(terms.total + penalty, terms.task, terms.quantum + penalty)
