"""Validation metrics accumulated on the device and read once at the end.

- ``loss``: the training objective (loss plus quantum terms), averaged over targets;
- ``accuracy``: top-1 accuracy;
- ``nll``: mean negative log-likelihood of the targets;
- ``brier``: multi-class Brier score, mean over targets of ``sum_c (p_c - y_c)^2``;
- ``ece``: expected calibration error, top-label, 15 uniform bins, computed as
  torchmetrics' ``multiclass_calibration_error(norm="l1")`` does;
- ``uncertainty``: mean sense entropy of the examples; ``predictive_uncertainty``:
  mean normalised entropy of the predictions;
- ``entanglement_strength``, ``superposition_coherence``: as in training.

Token-level outputs (``[B, T, C]`` with ``-100`` labels) count each non-ignored token
as one target.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from qembed.nn.measures import predictive_entropy
from qembed.training.batches import field, flatten_token_level

ECE_BINS = 15
_SUMS = ("loss", "correct", "nll", "brier", "targets", "uncertainty", "predictive_uncertainty",
         "entanglement_strength", "superposition_coherence", "examples")


class ValidationTotals:
    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(len(_SUMS), device=device, dtype=torch.float64)
        self.bin_edges = torch.linspace(0, 1, ECE_BINS + 1, device=device)
        # one spare slot, as torchmetrics: a confidence of exactly 1.0 lands past the last edge
        self.bins = torch.zeros(3, ECE_BINS + 1, device=device, dtype=torch.float64)

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

        self.sums += torch.stack([
            loss.detach().double() * count,
            correct.sum(),
            torch.nn.functional.cross_entropy(logits, targets, reduction="sum").double(),
            (probabilities - one_hot).square().sum().double(),
            count.double(),
            total("uncertainty"),
            predictive_entropy(logits).sum().double(),
            total("entanglement"),
            total("superposition"),
            zero + labels.shape[0],
        ])
        slots = torch.bucketize(confidence, self.bin_edges, right=True) - 1
        self.bins.index_add_(1, slots, torch.stack([torch.ones_like(correct), confidence.double(), correct]))

    def result(self) -> dict[str, float]:
        counts, confidence, correct = self.bins
        occupied = counts > 0
        gaps = (correct - confidence).abs() / counts.clamp_min(1)
        ece = (gaps * counts).where(occupied, torch.zeros_like(counts)).sum() / counts.sum().clamp_min(1)
        sums = dict(zip(_SUMS + ("ece",), torch.cat([self.sums, ece.view(1)]).tolist(), strict=True))
        targets, examples = sums["targets"], sums["examples"]
        if targets == 0:
            raise ValueError("the validation loader yielded no targets (it is empty, or every label is -100)")
        return {
            "loss": sums["loss"] / targets,
            "accuracy": sums["correct"] / targets,
            "uncertainty": sums["uncertainty"] / examples,
            "predictive_uncertainty": sums["predictive_uncertainty"] / targets,
            "ece": sums["ece"],
            "nll": sums["nll"] / targets,
            "brier": sums["brier"] / targets,
            "entanglement_strength": sums["entanglement_strength"] / examples,
            "superposition_coherence": sums["superposition_coherence"] / examples,
        }
