"""``PolysemyCorpus``: the embedded default corpus, a deterministic synthetic polysemy task."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from qembed.arguments import check_int, check_probability
from qembed.data._checks import TORCH_SEED_RANGE, derive_seed
from qembed.data.collate import pad_collate
from qembed.data.continual import split_labels, task_splits
from qembed.data.dataset import PolysemyDataset
from qembed.data.generate import GenerationConfig, generate_split
from qembed.data.lexicon import CLS, DEFAULT_LEXICON, MASK, PAD, SEP, SPECIAL_TOKENS, UNK, Lexicon
from qembed.data.mlm import MLMCollator
from qembed.data.tokenizer import TextTokenizer

SPLITS = ("train", "val", "test")


class PolysemyCorpus:
    """Train, validation and test splits of the synthetic polysemy task, built from one ``seed``.

    Every sentence holds one ambiguous word (sometimes twice) whose sense is drawn
    uniformly; its label is the topic of that sense. It also holds ``k`` cue words of that
    topic, ``k`` cue words of a *distractor* topic in which the word has no sense, and
    filler words; see ``docs/data.md`` for the full generative process.

    Each split has its own random stream derived from ``seed`` and the split's name, so
    the same seed gives identical splits and changing ``num_train`` leaves val and test
    as they were. Sentence lengths (words, without ``[CLS]``/``[SEP]``) are uniform in
    ``[min_length, max_length]``; ``min_length`` must hold the ambiguous word, its
    possible repeat and ``2 * max_cues`` cue words (8 by default). With
    ``add_special_tokens`` every sentence is wrapped in ``[CLS] ... [SEP]``.
    """

    def __init__(
        self,
        seed: int = 0,
        num_train: int = 4000,
        num_val: int = 500,
        num_test: int = 500,
        min_length: int = 8,
        max_length: int = 24,
        *,
        min_cues: int = 2,
        max_cues: int = 3,
        repeat_probability: float = 0.25,
        add_special_tokens: bool = False,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.seed = check_int("seed", seed)
        sizes = {
            "train": check_int("num_train", num_train, minimum=1),
            "val": check_int("num_val", num_val, minimum=0),
            "test": check_int("num_test", num_test, minimum=0),
        }
        lexicon = DEFAULT_LEXICON if lexicon is None else lexicon
        if not isinstance(lexicon, Lexicon):
            raise TypeError(f"lexicon must be a qembed.data.Lexicon or None, got {lexicon!r}")
        check_int("min_cues", min_cues, minimum=1, maximum=lexicon.min_cues_per_topic)
        check_int("max_cues", max_cues, minimum=min_cues, maximum=lexicon.min_cues_per_topic)
        repeat_probability = check_probability(
            "repeat_probability", repeat_probability, open_low=False, open_high=False
        )
        if not isinstance(add_special_tokens, bool):
            raise TypeError(f"add_special_tokens must be a bool, got {add_special_tokens!r}")
        check_int("min_length", min_length)
        config = GenerationConfig(
            min_length, max_length, min_cues, max_cues, repeat_probability, add_special_tokens
        )
        if min_length < config.min_content:
            repeat = ", its repeat" if repeat_probability > 0 else ""
            raise ValueError(
                f"min_length must be >= {config.min_content} to hold the ambiguous word{repeat} "
                f"and 2 * max_cues = {2 * max_cues} cue words, got {min_length}"
            )
        check_int("max_length", max_length, minimum=min_length)

        self.lexicon = lexicon
        self.config = config
        self.vocab: list[str] = lexicon.vocab()
        self.token_to_id: dict[str, int] = {token: index for index, token in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.token_to_id[token] for token in (PAD, UNK, CLS, SEP, MASK)
        )
        self.special_ids: frozenset[int] = frozenset(self.token_to_id[token] for token in SPECIAL_TOKENS)
        self.label_names: list[str] = lexicon.topic_names
        self.ambiguous_words: dict[str, tuple[str, ...]] = dict(lexicon.ambiguous)
        self.max_senses: int = lexicon.max_senses
        self._sense_label_table = torch.full((self.vocab_size, self.max_senses), -1, dtype=torch.long)
        for word, senses in self.ambiguous_words.items():
            topic_ids = [self.label_names.index(topic) for topic in senses]
            self._sense_label_table[self.token_to_id[word], : len(senses)] = torch.tensor(topic_ids)

        splits = {
            name: PolysemyDataset.from_generated(
                generate_split(
                    lexicon, self.token_to_id, config, sizes[name],
                    random.Random(f"qembed.data.PolysemyCorpus:{seed}:{name}"),
                    cls_id=self.cls_id, sep_id=self.sep_id,
                )
            )
            for name in SPLITS
        }
        self.train: PolysemyDataset = splits["train"]
        self.val: PolysemyDataset = splits["val"]
        self.test: PolysemyDataset = splits["test"]

    # -- vocabulary ---------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return len(self.vocab)

    @property
    def max_sequence_length(self) -> int:
        """The most tokens a sentence of this corpus can have (``[CLS]``/``[SEP]`` included)."""
        return self.config.max_length + (2 if self.config.add_special_tokens else 0)

    @property
    def num_labels(self) -> int:
        """Number of sentence labels (topics)."""
        return len(self.label_names)

    @property
    def ambiguous_ids(self) -> frozenset[int]:
        """Token ids of the ambiguous words."""
        return frozenset(self.token_to_id[word] for word in self.ambiguous_words)

    @property
    def sense_label_table(self) -> torch.Tensor:
        """``Long[vocab_size, max_senses]``: the label id of sense ``s`` of token ``t``, -1 where none.

        Maps a (token, sense) choice to its topic in one indexing step; the number of senses
        of token ``t`` is ``(table[t] >= 0).sum()``.
        """
        return self._sense_label_table.clone()

    @functools.cached_property
    def tokenizer(self) -> TextTokenizer:
        """The word-level :class:`~qembed.data.TextTokenizer` of the vocabulary: ``encode`` as a
        tokenizer, to save beside a model (its ids are ``corpus.encode(text)``'s)."""
        return TextTokenizer.from_vocabulary(self.vocab, lowercase=True)

    def encode(self, text: str) -> list[int]:
        """Token ids of the whitespace-separated words of ``text``; unknown words map to ``[UNK]``."""
        ids = []
        for word in text.split():
            index = self.token_to_id.get(word)
            if index is None:
                index = self.token_to_id.get(word.lower(), self.unk_id)
            ids.append(index)
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The words of ``ids`` joined by spaces, skipping ``[PAD]``."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        words = []
        for index in values:
            index = int(index)
            if not 0 <= index < self.vocab_size:
                raise ValueError(f"ids must be in [0, {self.vocab_size - 1}], got {index}")
            if index != self.pad_id:
                words.append(self.vocab[index])
        return " ".join(words)

    # -- loaders ------------------------------------------------------------------

    def loaders(
        self, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, num_workers: int = 0
    ) -> tuple[DataLoader, DataLoader, DataLoader]:
        """Train, val and test loaders of padded batches (see :func:`~qembed.data.pad_collate`).

        The train loader shuffles (when ``shuffle``) with a ``torch.Generator`` seeded by
        ``seed``; val and test keep their order.
        """
        collate = partial(pad_collate, pad_id=self.pad_id)
        check_int("seed", seed, *TORCH_SEED_RANGE)
        return (
            _loader(self.train, batch_size, collate, shuffle=shuffle, seed=seed, num_workers=num_workers),
            _loader(self.val, batch_size, collate, shuffle=False, seed=seed, num_workers=num_workers),
            _loader(self.test, batch_size, collate, shuffle=False, seed=seed, num_workers=num_workers),
        )

    def mlm_loaders(
        self, batch_size: int = 32, *, mask_probability: float = 0.15, shuffle: bool = True, seed: int = 0
    ) -> tuple[DataLoader, DataLoader]:
        """Train and val loaders for masked-language-model pre-training (:class:`~qembed.data.MLMCollator`).

        The train order comes from a generator seeded by ``seed``; the masks of each loader
        from their own generators, seeded from ``seed`` and the split name. A second pass
        over a loader draws new masks; rebuild the loaders to replay the same ones.
        """
        check_int("seed", seed, *TORCH_SEED_RANGE)
        collators = [
            MLMCollator(
                self.vocab_size, self.mask_id, self.special_ids, mask_probability,
                torch.Generator().manual_seed(derive_seed(seed, f"mlm-{split}")), pad_id=self.pad_id,
            )
            for split in ("train", "val")
        ]
        return (
            _loader(self.train, batch_size, collators[0], shuffle=shuffle, seed=seed, num_workers=0),
            _loader(self.val, batch_size, collators[1], shuffle=False, seed=seed, num_workers=0),
        )

    def task_sequence(
        self,
        num_tasks: int = 3,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> list[dict[str, Any]]:
        """Class-incremental tasks: the labels split into ``num_tasks`` groups of consecutive ids.

        Task ``t`` is ``{"train", "val", "test": DataLoader, "labels": tuple[int, ...]}``, its
        loaders holding only the sentences whose label is in the group (labels keep their
        global ids). ``num_tasks`` must be in ``[1, num_labels]``. Task ``t``'s train order
        comes from a generator seeded from ``seed`` and ``t``.
        """
        check_int("num_tasks", num_tasks, minimum=1, maximum=self.num_labels)
        check_int("seed", seed, *TORCH_SEED_RANGE)
        groups = split_labels(self.num_labels, num_tasks)
        collate = partial(pad_collate, pad_id=self.pad_id)
        tasks: list[dict[str, Any]] = []
        for task_id, (group, splits) in enumerate(
            zip(groups, task_splits({"train": self.train, "val": self.val, "test": self.test}, groups))
        ):
            task: dict[str, Any] = {
                name: _loader(
                    splits[name], batch_size, collate,
                    shuffle=shuffle and name == "train", seed=derive_seed(seed, f"task-{task_id}"),
                    num_workers=num_workers,
                )
                for name in SPLITS
            }
            task["labels"] = group
            tasks.append(task)
        return tasks

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(seed={self.seed}, train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}, vocab_size={self.vocab_size}, num_labels={self.num_labels}, "
            f"ambiguous_words={len(self.ambiguous_words)})"
        )


def _loader(
    dataset: Dataset, batch_size: int, collate: Any, *, shuffle: bool, seed: int, num_workers: int
) -> DataLoader:
    check_int("batch_size", batch_size, minimum=1)
    check_int("num_workers", num_workers, minimum=0)
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )
