"""How the trainer calls a loss: as the loss declares, or by one documented fallback.

A loss declares its inputs, and the trainer calls it accordingly:

- a ``loss_terms(outputs, labels) -> LossTerms`` method (the built-ins): called through
  it, so its parts are logged;
- :func:`loss_inputs` (``@loss_inputs("outputs", fields=("uncertainty",))`` on the class
  or function, or the ``loss_inputs`` attribute it sets): ``"logits"`` gives
  ``loss(logits, labels)``, token-level logits ``[B, T, C]`` with labels ``[B, T]``
  flattened to ``[B*T, C]`` and ``[B*T]`` (``-100`` stays ignored by cross-entropy);
  ``"outputs"`` gives ``loss(outputs, labels, **fields)``, the model output as it is and
  the named output fields as keyword arguments (``None`` where the model has none).

A loss that declares nothing (``nn.CrossEntropyLoss()``, the seed's
``QuantumAwareLoss(outputs, labels, uncertainty=None)``) gets the fallback, read once
from ``forward``'s signature: ``"outputs"`` with those fields when its first parameter
is ``outputs`` or it names ``uncertainty``, ``entanglement`` or ``superposition``;
``"logits"`` otherwise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast

import attrs
import torch
from torch import Tensor, nn

from qembed.plugins.contracts import ReportsTerms
from qembed.training.batches import field, flatten_token_level
from qembed.training.loss_terms import LossTerms

QUANTUM_FIELDS = ("uncertainty", "entanglement", "superposition")
_Loss = TypeVar("_Loss")


@attrs.frozen
class LossInputs:
    """What a loss is called with: ``"logits"`` or ``"outputs"`` (plus those output ``fields``)."""

    kind: Literal["logits", "outputs"]
    fields: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("logits", "outputs"):
            raise ValueError(f"loss inputs must be 'logits' or 'outputs', got {self.kind!r}")
        if self.kind == "logits" and self.fields:
            raise ValueError(f"a loss called with the logits receives no output fields, got fields={self.fields!r}")
        if not all(isinstance(name, str) and name.isidentifier() for name in self.fields):
            raise ValueError(f"output fields must be attribute names, got {self.fields!r}")


def loss_inputs(kind: Literal["logits", "outputs"], *, fields: Sequence[str] = ()) -> Callable[[_Loss], _Loss]:
    """Declare how the trainer calls a loss (a class or a function)::

        @loss_inputs("outputs", fields=("uncertainty",))
        class MyLoss(nn.Module):
            def forward(self, outputs, labels, uncertainty=None): ...
    """
    if isinstance(fields, str):  # tuple("uncertainty") would be its letters
        raise ValueError(f"fields must be a sequence of output field names, got the string {fields!r}; "
                         f"write fields=({fields!r},)")
    declared = LossInputs(kind, tuple(fields))

    def declare(loss: _Loss) -> _Loss:
        loss.loss_inputs = declared  # type: ignore[attr-defined]
        return loss

    return declare


def inputs_of(loss_fn: Any) -> LossInputs:
    """What ``loss_fn`` is called with: its declaration, or the signature fallback."""
    declared = getattr(loss_fn, "loss_inputs", None)
    if declared is not None:
        if not isinstance(declared, LossInputs):
            raise TypeError(f"{type(loss_fn).__name__}.loss_inputs must be a qembed LossInputs (set it with "
                            f"@qembed.training.loss_inputs(...)), got {declared!r}")
        return declared
    forward = getattr(loss_fn, "forward", loss_fn)
    names = [
        p.name for p in inspect.signature(forward).parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    fields = tuple(name for name in names if name in QUANTUM_FIELDS)
    if (names and names[0] == "outputs") or fields:
        return LossInputs("outputs", fields)
    return LossInputs("logits")


class LossCall:
    """Calls ``loss_fn`` with what it declares; always returns :class:`LossTerms`.
    ``label`` names the loss in errors about what it returned."""

    def __init__(self, loss_fn: nn.Module | Callable[..., Tensor], label: str | None = None) -> None:
        self.loss_fn = loss_fn
        self.label = label or f"the loss ({type(loss_fn).__name__})"
        self.reports_terms = callable(getattr(loss_fn, "loss_terms", None))
        self.inputs = inputs_of(loss_fn)
        samples = getattr(loss_fn, "mc_samples", 0) or 0
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise ValueError(f"loss attribute mc_samples must be an integer >= 0, got {samples!r}")
        self.mc_samples = samples

    def __call__(self, outputs: Any, labels: Tensor) -> LossTerms:
        if self.reports_terms:
            return cast(ReportsTerms, self.loss_fn).loss_terms(outputs, labels)
        if self.inputs.kind == "outputs":
            extras = {name: getattr(outputs, name, None) for name in self.inputs.fields}
            value = self.loss_fn(outputs, labels, **extras)
        else:
            value = self.loss_fn(*flatten_token_level(outputs.logits.float(), labels))
        if not isinstance(value, Tensor) or value.dim() != 0:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"{self.label} must return a scalar tensor, got {shape}")
        return LossTerms(value, value, torch.zeros((), device=value.device))


def with_uncertainty_penalty(terms: LossTerms, outputs: Any, weight: float) -> LossTerms:
    """``terms`` plus ``weight * mean(uncertainty)`` as a quantum term (the
    ``uncertainty_regularization`` key), when the output has an ``uncertainty``."""
    uncertainty = field(outputs, "uncertainty")
    if not weight or uncertainty is None:
        return terms
    penalty = weight * uncertainty.float().mean()
    return LossTerms(terms.total + penalty, terms.task, terms.quantum + penalty)
