"""Validation metrics accumulated on the device and read once at the end.

- ``loss``: the training objective (loss plus quantum terms), averaged over targets;
- ``accuracy``: top-1 accuracy;
- ``nll``: mean negative log-likelihood of the targets;
- ``brier``: multi-class Brier score, mean over targets of ``sum_c (p_c - y_c)^2``;
- ``ece``: expected calibration error, top-label, 15 uniform bins, computed as
  torchmetrics' ``multiclass_calibration_error(norm="l1")`` does;
- ``uncertainty``: the examples' mean predictive uncertainty (the entropy of the
  prediction averaged over collapse samples when the trainer draws them);
  ``mutual_information``: its epistemic part (0 without collapse samples);
  ``predictive_entropy``: mean normalised entropy of the (deterministic) predictions,
  per target; ``sense_entropy``: mean sense entropy of the examples;
- ``uncertainty_auroc``, ``predictive_entropy_auroc`` (one label per example only): the
  AUROC of the example's ``uncertainty`` / ``predictive_entropy`` as a detector of the
  model's errors (0.5: no better than chance), see
  :func:`qembed.metrics.error_detection_auroc`;
- ``entanglement_strength``, ``superposition_coherence``: as in training.

Token-level outputs (``[B, T, C]`` with ``-100`` labels) count each non-ignored token
as one target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from qembed.metrics.uncertainty import error_detection_auroc
from qembed.nn.measures import predictive_entropy
from qembed.training.batches import field, flatten_token_level
from qembed.training.step_metrics import read

ECE_BINS = 15
#: what each entry of ``ValidationTotals.sums`` adds up (``add`` names every one per batch)
_SUMS = ("loss", "correct", "nll", "brier", "targets", "uncertainty", "predictive_entropy", "mutual_information",
         "sense_entropy", "entanglement_strength", "superposition_coherence", "examples")


#: every metric :meth:`ValidationTotals.result` can return (the AUROCs only for one label per example)
METRICS = ("loss", "accuracy", "uncertainty", "predictive_entropy", "mutual_information", "sense_entropy", "ece",
           "nll", "brier", "entanglement_strength", "superposition_coherence", "uncertainty_auroc",
           "predictive_entropy_auroc")


class ValidationTotals:
    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(len(_SUMS), device=device, dtype=torch.float64)
        self.bin_edges = torch.linspace(0, 1, ECE_BINS + 1, device=device)
        # one spare slot, as torchmetrics: a confidence of exactly 1.0 lands past the last edge
        self.bins = torch.zeros(3, ECE_BINS + 1, device=device, dtype=torch.float64)
        # per example, for the AUROCs: (uncertainty, predictive entropy, error); None once a
        # batch has token-level targets
        self.detection: list[Tensor] | None = []

    def add(self, outputs: Any, labels: Tensor, loss: Tensor) -> None:
        logits, targets = flatten_token_level(outputs.logits.float(), labels)
        real = targets != -100
        logits, targets = logits[real], targets[real]
        count = real.sum()
        probabilities = logits.softmax(-1)
        confidence, prediction = probabilities.max(-1)
        correct = (prediction == targets).double()
        one_hot = torch.nn.functional.one_hot(targets, probabilities.shape[-1]).to(probabilities.dtype)
        zero = torch.zeros((), device=logits.device, dtype=torch.float64)

        def total(name: str) -> Tensor:
            value = field(outputs, name)
            return value.detach().double().sum() if value is not None else zero

        entropy = predictive_entropy(logits)
        batch = {
            "loss": loss.detach().double() * count,
            "correct": correct.sum(),
            "nll": torch.nn.functional.cross_entropy(logits, targets, reduction="sum").double(),
            "brier": (probabilities - one_hot).square().sum().double(),
            "targets": count.double(),
            "uncertainty": total("uncertainty"),
            "predictive_entropy": entropy.sum().double(),
            "mutual_information": total("mutual_information"),
            "sense_entropy": total("sense_entropy"),
            "entanglement_strength": total("entanglement"),
            "superposition_coherence": total("superposition"),
            "examples": zero + labels.shape[0],
        }
        self.sums += torch.stack([batch[name] for name in _SUMS])  # one add for every sum, no sync
        self._add_detection(outputs, labels, entropy, correct)
        slots = torch.bucketize(confidence, self.bin_edges, right=True) - 1
        self.bins.index_add_(1, slots, torch.stack([torch.ones_like(correct), confidence.double(), correct]))

    def reduce(self, across_ranks: Callable[[Tensor], Tensor]) -> None:
        """Replace the sums and calibration bins by ``across_ranks`` of them (every rank's, added)."""
        self.sums = across_ranks(self.sums)
        self.bins = across_ranks(self.bins)

    def _add_detection(self, outputs: Any, labels: Tensor, entropy: Tensor, correct: Tensor) -> None:
        uncertainty = field(outputs, "uncertainty")
        if self.detection is None or uncertainty is None or labels.dim() != 1:
            self.detection = None  # token-level targets: no per-example error to detect
            return
        self.detection.append(torch.stack([uncertainty.detach().double(), entropy.double(), 1.0 - correct]))

    def result(self) -> dict[str, float]:
        counts, confidence, correct = self.bins
        occupied = counts > 0
        gaps = (correct - confidence).abs() / counts.clamp_min(1)
        ece = (gaps * counts).where(occupied, torch.zeros_like(counts)).sum() / counts.sum().clamp_min(1)
        sums = read({**dict(zip(_SUMS, self.sums.unbind(), strict=True)), "ece": ece})
        targets, examples = sums["targets"], sums["examples"]
        if targets == 0:
            raise ValueError("the validation loader yielded no targets (it is empty, or every label is -100)")
        metrics = {
            "loss": sums["loss"] / targets,
            "accuracy": sums["correct"] / targets,
            "uncertainty": sums["uncertainty"] / examples,
            "predictive_entropy": sums["predictive_entropy"] / targets,
            "mutual_information": sums["mutual_information"] / examples,
            "sense_entropy": sums["sense_entropy"] / examples,
            "ece": sums["ece"],
            "nll": sums["nll"] / targets,
            "brier": sums["brier"] / targets,
            "entanglement_strength": sums["entanglement_strength"] / examples,
            "superposition_coherence": sums["superposition_coherence"] / examples,
        }
        if self.detection:
            uncertainty, entropy, errors = torch.cat(self.detection, dim=1)
            metrics["uncertainty_auroc"] = error_detection_auroc(uncertainty, errors > 0)
            metrics["predictive_entropy_auroc"] = error_detection_auroc(entropy, errors > 0)
        return metrics
