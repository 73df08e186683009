"""A training step's metrics, by name, kept on the device until a log reads them.

:data:`STEP_METRICS` is the one place a per-batch training metric is defined: its name
and how it is measured from the loss terms and the model output. The trainer sums each
one over the batches where it was finite (:class:`MetricSums`: one stacked tensor, no
host sync per step) and :func:`read` turns any mapping of device scalars into floats in
one transfer, so a metric reaches the history, the lifecycle hooks (TensorBoard, every
logger), the progress bar and the Lightning adapter by its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from qembed.training.batches import field
from qembed.training.loss_terms import LossTerms

Measure = Callable[[LossTerms, Any], "Tensor | None"]


def _output_mean(name: str) -> Measure:
    """The batch mean of the model output's ``name`` field (``None`` where it has none)."""

    def measure(terms: LossTerms, outputs: Any) -> Tensor | None:
        value = field(outputs, name)
        return value.detach().float().mean() if value is not None else None

    return measure


#: name -> how one batch measures it; a missing output field counts as 0.0
STEP_METRICS: dict[str, Measure] = {
    "loss": lambda terms, outputs: terms.total.detach().float(),
    "quantum_loss": lambda terms, outputs: terms.quantum.detach().float(),
    "uncertainty": _output_mean("uncertainty"),
    "sense_entropy": _output_mean("sense_entropy"),
    "entanglement_strength": _output_mean("entanglement"),
    "superposition_coherence": _output_mean("superposition"),
}


def step_metrics(terms: LossTerms, outputs: Any) -> dict[str, Tensor]:
    """One batch's :data:`STEP_METRICS`, as 0-dim device tensors (no sync)."""
    zero = torch.zeros((), device=terms.total.device)
    measured = {name: measure(terms, outputs) for name, measure in STEP_METRICS.items()}
    return {name: zero if value is None else value for name, value in measured.items()}


def read(named: Mapping[str, Tensor | float]) -> dict[str, float]:
    """Plain floats for named scalars: the device tensors among them are read in one transfer."""
    tensors = {name: value for name, value in named.items() if isinstance(value, Tensor)}
    values = torch.stack([t.detach().double().reshape(()) for t in tensors.values()]).tolist() if tensors else []
    floats = dict(zip(tensors, values, strict=True))
    return {name: floats[name] if name in floats else float(value) for name, value in named.items()}


class MetricSums:
    """Per metric name: the sum over the batches where it was finite, and their count,
    in one ``[2, n]`` device tensor; a skipped step's NaN stays out of the mean."""

    def __init__(self, names: tuple[str, ...], device: torch.device | str, sums: Tensor | None = None) -> None:
        self.names = names
        self.sums = torch.zeros(2, len(names), device=device) if sums is None else sums
        if self.sums.shape != (2, len(names)):
            raise ValueError(f"metric sums of shape {tuple(self.sums.shape)} do not fit the {len(names)} metrics "
                             f"{list(names)}")

    def add(self, values: Mapping[str, Tensor]) -> None:
        """Add one batch's values (one stack, no sync)."""
        stacked = torch.stack([values[name] for name in self.names])
        finite = torch.isfinite(stacked)
        self.sums += torch.stack([torch.where(finite, stacked, 0.0), finite.float()])

    def merge_into(self, other: MetricSums) -> None:
        """Add these sums to ``other`` and start again from zero (a logging window ends)."""
        other.sums += self.sums
        self.sums.zero_()

    def means(self) -> dict[str, Tensor]:
        """Each metric's mean over its finite batches; NaN where none was finite (never 0.0,
        which could become the best epoch)."""
        totals, counts = self.sums
        means = torch.where(counts > 0, totals / counts.clamp_min(1), float("nan"))
        return dict(zip(self.names, means.unbind(), strict=True))

    def combined(self, other: MetricSums) -> MetricSums:
        """A new record holding both sums."""
        return MetricSums(self.names, self.sums.device, self.sums + other.sums)

    def reduced(self, reduce: Callable[[Tensor], Tensor]) -> MetricSums:
        """A new record of ``reduce(sums)`` (every rank's sums added up, in a distributed run)."""
        return MetricSums(self.names, self.sums.device, reduce(self.sums.clone()))
