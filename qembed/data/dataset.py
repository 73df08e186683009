"""``PolysemyDataset``: one split of the polysemy corpus as a map-style torch dataset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch.utils.data import Dataset

from qembed.data.generate import GeneratedSplit


class PolysemyDataset(Dataset):
    """Sentences with their label and per-token ground-truth senses.

    Item ``i`` is ``{"input_ids": Long[T], "labels": Long[] (0-dim), "sense_ids": Long[T]}``;
    ``sense_ids`` holds the sense index at the ambiguous word's occurrences and -100
    elsewhere. The tensors are shared with the dataset: do not modify them in place.

    Per-sentence columns, each ``Long[N]``: ``labels`` (topic id of the ground-truth
    sense), ``words`` (token id of the ambiguous word), ``senses`` (its ground-truth sense
    index), ``distractor_labels`` (topic id of the distractor cue words) and ``lengths``.
    """

    def __init__(
        self,
        input_ids: Sequence[torch.Tensor],
        sense_ids: Sequence[torch.Tensor],
        labels: torch.Tensor,
        words: torch.Tensor,
        senses: torch.Tensor,
        distractor_labels: torch.Tensor,
    ) -> None:
        count = len(input_ids)
        columns = {"sense_ids": len(sense_ids), "labels": len(labels), "words": len(words),
                   "senses": len(senses), "distractor_labels": len(distractor_labels)}
        for name, size in columns.items():
            if size != count:
                raise ValueError(f"{name} must have one entry per sentence ({count}), got {size}")
        self._input_ids = list(input_ids)
        self._sense_ids = list(sense_ids)
        self.labels = labels
        self.words = words
        self.senses = senses
        self.distractor_labels = distractor_labels
        self.lengths = torch.tensor([len(ids) for ids in self._input_ids], dtype=torch.long)

    @classmethod
    def from_generated(cls, split: GeneratedSplit) -> PolysemyDataset:
        """Wrap the columns produced by :func:`qembed.data.generate.generate_split`."""
        return cls(
            split.input_ids, split.sense_ids, split.labels, split.words, split.senses, split.distractors
        )

    def __len__(self) -> int:
        return len(self._input_ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} sentences")
        return {
            "input_ids": self._input_ids[index],
            "labels": self.labels[index],
            "sense_ids": self._sense_ids[index],
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} sentences)"

    def select(self, indices: Iterable[int]) -> PolysemyDataset:
        """A new dataset holding the sentences at ``indices``, in that order."""
        index_list = [int(i) for i in indices]
        for i in index_list:
            if not -len(self) <= i < len(self):
                raise IndexError(f"index {i} out of range for a dataset of {len(self)} sentences")
        rows = torch.tensor(index_list, dtype=torch.long)
        return type(self)(
            [self._input_ids[i] for i in index_list],
            [self._sense_ids[i] for i in index_list],
            self.labels[rows],
            self.words[rows],
            self.senses[rows],
            self.distractor_labels[rows],
        )

    def with_labels(self, labels: Iterable[int]) -> PolysemyDataset:
        """A new dataset holding only the sentences whose label is in ``labels`` (order kept)."""
        wanted = torch.tensor(sorted({int(label) for label in labels}), dtype=torch.long)
        keep = torch.isin(self.labels, wanted).nonzero().flatten().tolist()
        return self.select(keep)
