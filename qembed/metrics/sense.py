"""How well collapse picks the ground-truth sense of ambiguous tokens.

A model's K sense slots are unlabelled: slot 2 of "bank" may hold the river
sense. So the score maps each (word, slot) to the ground-truth sense it most
often stands for on one split, then counts how often the mapped choice is right
on another split. The baseline always answers each word's most frequent sense
(on the fitting split): a collapse that ignores context scores no better.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
import torch
from torch import Tensor, nn

from qembed.nn.embeddings import evaluation_collapse

IGNORE_INDEX = -100


@attrs.frozen
class SenseAccuracy:
    accuracy: float  # mapped collapse choice == ground-truth sense
    baseline: float  # each word's most frequent sense
    count: int  # ambiguous tokens scored


@torch.no_grad()
def collect_sense_choices(model: nn.Module, loader: Iterable[Mapping[str, Tensor]]) -> Tensor:
    """``[N, 3]`` rows ``(token id, chosen sense slot, ground-truth sense)`` for every
    token with a ``sense_ids`` label, from the model in evaluation mode with every token
    collapsed to the sense its strategy picks (in a contextual layer, the most probable
    sense in context). The model must return ``sense_weights``."""
    was_training = model.training
    model.eval()
    rows = []
    try:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        with evaluation_collapse(model, True):
            for batch in loader:
                output = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
                if getattr(output, "sense_weights", None) is None:
                    raise ValueError(f"{type(model).__name__} returns no sense_weights: sense accuracy needs a "
                                     "model with QuantumEmbeddings (and more than one sense to choose from)")
                labelled = batch["sense_ids"] != IGNORE_INDEX
                rows.append(torch.stack([
                    batch["input_ids"][labelled],
                    output.sense_weights.argmax(-1).cpu()[labelled],
                    batch["sense_ids"][labelled],
                ], dim=1))
    finally:
        model.train(was_training)
    return torch.cat(rows) if rows else torch.empty(0, 3, dtype=torch.long)


def sense_accuracy(fit: Tensor, evaluate: Tensor) -> SenseAccuracy:
    """Score ``evaluate`` choices with the slot -> sense mapping learned on ``fit``
    (both from :func:`collect_sense_choices`)."""
    if len(evaluate) == 0:
        raise ValueError("no ambiguous tokens to evaluate (sense_ids are all -100)")
    words, slots, senses = (int(column.max()) + 1 for column in torch.cat([fit, evaluate]).unbind(1))
    counts = torch.zeros(words, slots, senses, dtype=torch.long)
    counts.index_put_((fit[:, 0], fit[:, 1], fit[:, 2]), torch.ones(len(fit), dtype=torch.long), accumulate=True)
    mapped = counts.argmax(-1)[evaluate[:, 0], evaluate[:, 1]]
    seen = counts.sum(-1)[evaluate[:, 0], evaluate[:, 1]] > 0
    accuracy = ((mapped == evaluate[:, 2]) & seen).float().mean().item()
    most_frequent = counts.sum(1).argmax(-1)[evaluate[:, 0]]
    baseline = (most_frequent == evaluate[:, 2]).float().mean().item()
    return SenseAccuracy(accuracy, baseline, len(evaluate))
