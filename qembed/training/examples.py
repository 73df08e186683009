"""Batches as lists of examples and back: splitting, collating, concatenating.

A batch is a mapping of tensors sharing a leading batch dimension. A tensor with at
least two dimensions whose second one is the batch's sequence length (that of
``attention_mask`` when present) is a *sequence*: it is right-padded, with
``pad_value(key)``, to the longest example. These helpers read shapes and CPU
values only, so on CPU batches they never wait for a device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

#: Padding of the keys that losses ignore; every other key pads with 0.
PAD_VALUES: dict[str, int] = {"labels": -100, "sense_ids": -100}


def pad_value(key: str) -> int:
    """The value that pads ``key``: -100 for ``labels`` and ``sense_ids``, else 0."""
    return PAD_VALUES.get(key, 0)


def batch_size(batch: Mapping[str, Tensor]) -> int:
    """The leading dimension shared by every tensor of ``batch``."""
    sizes = {}
    for key, value in batch.items():
        if not isinstance(value, Tensor) or value.dim() == 0:
            raise TypeError(f"batch[{key!r}] must be a tensor with a batch dimension, got {value!r}")
        sizes[key] = value.shape[0]
    if not sizes:
        raise ValueError("batch holds no tensors")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batch tensors must share their first (batch) dimension, got {sizes}")
    return next(iter(sizes.values()))


def split_examples(batch: Mapping[str, Tensor]) -> list[dict[str, Tensor]]:
    """One dict per example; sequences trimmed to the example's ``attention_mask.sum()``.

    Without ``attention_mask`` sequences are kept whole. The mask must be right-padded
    (real tokens first). The example tensors are views of the batch: clone them to keep
    them without keeping the whole batch alive.
    """
    size = batch_size(batch)
    mask = batch.get("attention_mask")
    if mask is None or mask.dim() < 2:
        return [{key: value[index] for key, value in batch.items()} for index in range(size)]
    if mask.shape[1] > 1 and bool((mask[:, 1:] > mask[:, :-1]).any()):
        raise ValueError("attention_mask must be right-padded (real tokens first, then padding)")
    length = mask.shape[1]
    lengths = mask.sum(dim=1).tolist()
    return [
        {
            key: value[index, :real] if value.dim() >= 2 and value.shape[1] == length else value[index]
            for key, value in batch.items()
        }
        for index, real in enumerate(lengths)
    ]


def collate_examples(examples: Sequence[Mapping[str, Tensor]]) -> dict[str, Tensor]:
    """Stack examples into a batch, right-padding sequences to the longest with ``pad_value``."""
    if len(examples) == 0:
        raise ValueError("examples must hold at least one example, got none")
    keys = list(examples[0])
    for example in examples:
        if set(example) != set(keys):
            raise ValueError(f"examples must share their keys, got {sorted(keys)} and {sorted(example)}")
    batch = {}
    for key in keys:
        values = [example[key] for example in examples]
        if all(value.dim() == 0 for value in values):
            batch[key] = torch.stack(values)
        else:
            batch[key] = pad_sequence(values, batch_first=True, padding_value=pad_value(key))
    return batch


def concat_batches(first: Mapping[str, Tensor], second: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``first`` followed by ``second`` along the batch dimension, sequences right-padded to the longer."""
    if set(first) != set(second):
        raise ValueError(
            f"batches must have the same keys to be concatenated, got {sorted(first)} and {sorted(second)} "
            f"(only in the first: {sorted(set(first) - set(second))}, "
            f"only in the second: {sorted(set(second) - set(first))})"
        )
    batch = {}
    for key, head in first.items():
        tail = second[key]
        if head.dim() >= 2 and tail.dim() >= 2 and head.shape[1] != tail.shape[1]:
            length = max(head.shape[1], tail.shape[1])
            head, tail = _pad_to(head, length, pad_value(key)), _pad_to(tail, length, pad_value(key))
        batch[key] = torch.cat([head, tail])
    return batch


def _pad_to(tensor: Tensor, length: int, value: int) -> Tensor:
    if tensor.shape[1] == length:
        return tensor
    padded = tensor.new_full((tensor.shape[0], length, *tensor.shape[2:]), value)
    padded[:, : tensor.shape[1]] = tensor
    return padded
