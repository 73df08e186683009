"""``pad_collate``: the padding collate function of the polysemy loaders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import default_collate

from qembed.data.generate import IGNORE_INDEX


def pad_collate(examples: Sequence[Mapping[str, Any]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad dataset items into one batch, right-padded to the longest sentence.

    Returns ``{"input_ids": Long[B, T]`` (padded with ``pad_id``), ``"attention_mask":
    Long[B, T]`` (1 = real token, 0 = pad), ``"labels": Long[B]`` and ``"sense_ids":
    Long[B, T]`` (-100 at pads)``}``; ``labels`` and ``sense_ids`` only when the items have
    them. Any other key is collated with ``torch.utils.data.default_collate``.
    """
    if len(examples) == 0:
        raise ValueError("examples must hold at least 1 item, got none")
    sequences = [torch.as_tensor(example["input_ids"], dtype=torch.long) for example in examples]
    for sequence in sequences:
        if sequence.dim() != 1:
            raise ValueError(f"input_ids of every item must be 1-D, got shape {tuple(sequence.shape)}")
    lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.long)
    input_ids = pad_sequence(sequences, batch_first=True, padding_value=pad_id)
    positions = torch.arange(input_ids.shape[1])
    batch: dict[str, torch.Tensor] = {
        "input_ids": input_ids,
        "attention_mask": (positions.unsqueeze(0) < lengths.unsqueeze(1)).long(),
    }
    keys = examples[0].keys()
    if "labels" in keys:
        labels = [torch.as_tensor(example["labels"], dtype=torch.long) for example in examples]
        batch["labels"] = torch.stack(labels)
    if "sense_ids" in keys:
        senses = [torch.as_tensor(example["sense_ids"], dtype=torch.long) for example in examples]
        for sense, sequence in zip(senses, sequences):
            if sense.shape != sequence.shape:
                raise ValueError(
                    "sense_ids must have the shape of input_ids, "
                    f"got {tuple(sense.shape)} and {tuple(sequence.shape)}"
                )
        batch["sense_ids"] = pad_sequence(senses, batch_first=True, padding_value=IGNORE_INDEX)
    for key in keys:
        if key not in batch:
            batch[key] = default_collate([example[key] for example in examples])
    return batch
