"""``TextCorpus``: a user's own text files as tokenized train / validation / test splits.

The files are read by :func:`~qembed.data.text_files.read_records`, tokenized by a
:class:`~qembed.data.TextTokenizer` (trained on the train split, or loaded) and labelled by
a :class:`~qembed.data.LabelMap`; the loaders batch as ``PolysemyCorpus.loaders`` do.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from qembed.arguments import check_bool, check_int, check_probability, quoted
from qembed.data._checks import TORCH_SEED_RANGE, derive_seed, did_you_mean
from qembed.data.collate import pad_collate
from qembed.data.corpus import _loader
from qembed.data.generate import IGNORE_INDEX
from qembed.data.label_map import LabelMap
from qembed.data.lexicon import SPECIAL_TOKENS
from qembed.data.mlm import MLMCollator
from qembed.data.text_files import Records, read_records
from qembed.data.tokenizer import ALGORITHMS, TextTokenizer

#: Words of a sense field without a sense.
NO_SENSE = (None, "", "-")


class TextDataset(Dataset):
    """Tokenized texts: item ``i`` is ``{"input_ids": Long[T]}``, with ``"labels": Long[]``
    when labelled and ``"sense_ids": Long[T]`` (-100 where unannotated) with senses.
    ``texts[i]`` is the text behind item ``i``."""

    def __init__(self, texts: Sequence[str], input_ids: Sequence[torch.Tensor], labels: torch.Tensor | None = None,
                 sense_ids: Sequence[torch.Tensor] | None = None) -> None:
        count = len(texts)
        for name, column in (("input_ids", input_ids), ("labels", labels), ("sense_ids", sense_ids)):
            if column is not None and len(column) != count:
                raise ValueError(f"{name} must have one entry per text ({count}), got {len(column)}")
        self.texts = list(texts)
        self._input_ids = list(input_ids)
        self.labels = labels
        self._sense_ids = None if sense_ids is None else list(sense_ids)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} texts")
        item = {"input_ids": self._input_ids[index]}
        if self.labels is not None:
            item["labels"] = self.labels[index]
        if self._sense_ids is not None:
            item["sense_ids"] = self._sense_ids[index]
        return item

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} texts)"


class TextCorpus:
    """Train, validation and test splits of text files (or ``datasets`` / lists of dicts).

    ``train`` is a JSON Lines, CSV, TSV or plain-text file, a ``datasets`` folder or object
    (a ``DatasetDict``'s ``train`` / ``validation`` / ``test`` splits become the splits) or a
    list of dicts. A split not given as a source is drawn from train by a seeded fraction
    (``validation_fraction``, ``test_fraction``; 0 gives an empty split). ``tokenizer`` is
    ``"bpe"`` or ``"wordpiece"`` (trained on the train split with ``vocab_size`` and
    ``lowercase``), a tokenizer folder (:meth:`TextTokenizer.load`, truncating to
    ``max_length``) or a :class:`TextTokenizer`. ``labels`` is ``None`` (the values of every
    row of the train source, the validation / test rows drawn from it included,
    :meth:`LabelMap.from_values`; a label only in a separately given validation / test source
    is refused), a :class:`LabelMap` or a list of names;
    ``label_field=None`` reads unlabelled text (masked-LM pre-training). See ``docs/data.md``.
    """

    def __init__(
        self,
        train: Any,
        validation: Any = None,
        test: Any = None,
        *,
        format: str | None = None,
        text_field: str = "text",
        label_field: str | None = "label",
        sense_field: str | None = None,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        tokenizer: str | os.PathLike[str] | TextTokenizer = "bpe",
        vocab_size: int = 8000,
        lowercase: bool = True,
        max_length: int = 128,
        labels: LabelMap | Sequence[str] | None = None,
    ) -> None:
        fields = _check_fields(text_field, label_field, sense_field)
        validation_fraction = check_probability("validation_fraction", validation_fraction,
                                                open_low=False, open_high=True)
        test_fraction = check_probability("test_fraction", test_fraction, open_low=False, open_high=True)
        if validation_fraction + test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be < 1 to leave rows to train on, got "
                             f"{validation_fraction} + {test_fraction}")
        self.seed = check_int("seed", seed)
        check_int("vocab_size", vocab_size, minimum=len(SPECIAL_TOKENS) + 1)
        check_bool("lowercase", lowercase)
        check_int("max_length", max_length, minimum=1)
        if label_field is None and labels is not None:
            raise ValueError("labels is given but label_field is None: unlabelled text has no labels to map")
        tokenizer = _tokenizer_source(tokenizer)

        tables = _splits(train, validation, test, format=format, fields=fields)
        source = tables["train"]  # every row of the train source, before validation / test are drawn
        given = {name for name in ("validation", "test") if tables[name] is not None}
        tables = _fraction_splits(tables, validation_fraction, test_fraction, self.seed)
        if not tables["train"].rows:
            raise ValueError(f"{tables['train'].where} holds no rows to train on")

        if isinstance(tokenizer, TextTokenizer):
            self.tokenizer = tokenizer
        elif tokenizer in ALGORITHMS:
            texts = _texts(tables["train"], text_field)
            self.tokenizer = TextTokenizer.train(texts, algorithm=str(tokenizer), vocab_size=vocab_size,
                                                 lowercase=lowercase, max_length=max_length)
        else:
            self.tokenizer = TextTokenizer.load(tokenizer, max_length=max_length)
        self.labels: LabelMap | None = None
        from_train = label_field is not None and labels is None
        if label_field is not None:
            if labels is None:
                # all rows, so a label whose only rows were drawn into validation / test is mapped too
                assert source is not None
                labels = LabelMap.from_values(_labels(source, label_field))
            self.labels = labels if isinstance(labels, LabelMap) else LabelMap(labels)

        datasets = {name: _encode(table, self.tokenizer, self.labels, text_field, label_field, sense_field,
                                  given_split=name if from_train and name in given else None)
                    for name, table in tables.items()}
        self.train: TextDataset = datasets["train"]
        self.val: TextDataset = datasets["validation"]
        self.test: TextDataset = datasets["test"]
        #: the reading options, JSON-able, saved beside a model to read more data alike
        self.options: dict[str, Any] = {
            "format": format, "text_field": text_field, "label_field": label_field, "sense_field": sense_field,
            "lowercase": lowercase, "max_length": self.tokenizer.max_length,
        }

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.tokenizer.vocab_size

    @property
    def num_labels(self) -> int:
        """Number of labels (0 for unlabelled text)."""
        return 0 if self.labels is None else len(self.labels)

    @property
    def max_sequence_length(self) -> int:
        """The most tokens a text is encoded to (the tokenizer's ``max_length``)."""
        return self.tokenizer.max_length

    def loaders(self, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0) -> tuple[DataLoader, DataLoader, DataLoader]:
        """Train, validation and test loaders of padded batches (:func:`~qembed.data.pad_collate`);
        the train order comes from a generator seeded by ``seed``."""
        check_int("seed", seed, *TORCH_SEED_RANGE)
        collate = partial(pad_collate, pad_id=self.tokenizer.pad_id)
        return (
            _loader(self.train, batch_size, collate, shuffle=shuffle, seed=seed, num_workers=num_workers),
            _loader(self.val, batch_size, collate, shuffle=False, seed=seed, num_workers=num_workers),
            _loader(self.test, batch_size, collate, shuffle=False, seed=seed, num_workers=num_workers),
        )

    def mlm_loaders(self, batch_size: int = 32, *, mask_probability: float = 0.15, shuffle: bool = True,
                    seed: int = 0, num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
        """Train and validation loaders for masked-LM pre-training (:class:`~qembed.data.MLMCollator`),
        seeded as ``PolysemyCorpus.mlm_loaders``; needs a tokenizer with a mask token."""
        check_int("seed", seed, *TORCH_SEED_RANGE)
        if self.tokenizer.mask_id is None:
            raise ValueError(f"mlm_loaders needs a tokenizer with a mask token; {self.tokenizer!r} has none")
        collators = [
            MLMCollator(self.vocab_size, self.tokenizer.mask_id, self.tokenizer.special_ids, mask_probability,
                        torch.Generator().manual_seed(derive_seed(seed, f"mlm-{split}")), pad_id=self.tokenizer.pad_id)
            for split in ("train", "val")
        ]
        return (
            _loader(self.train, batch_size, collators[0], shuffle=shuffle, seed=seed, num_workers=num_workers),
            _loader(self.val, batch_size, collators[1], shuffle=False, seed=seed, num_workers=num_workers),
        )

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
                f"vocab_size={self.vocab_size}, num_labels={self.num_labels})")


def read_dataset(
    source: Any,
    *,
    tokenizer: TextTokenizer | str | os.PathLike[str],
    labels: LabelMap | Sequence[str] | None,
    format: str | None = None,
    text_field: str = "text",
    label_field: str | None = "label",
    sense_field: str | None = None,
    split: str | None = None,
) -> TextDataset:
    """One table read with a saved tokenizer (or its folder) and label map, as ``qembed evaluate
    --data FILE`` does; a label absent from the map is an error naming it. ``split`` picks
    the table of a ``DatasetDict``."""
    fields = _check_fields(text_field, label_field, sense_field)
    if not isinstance(tokenizer, TextTokenizer):
        tokenizer = TextTokenizer.load(tokenizer)
    if label_field is not None and labels is None:
        raise ValueError(f"labels is None but label_field is {label_field!r}: pass the label map the model was "
                         "trained with, or label_field=None for unlabelled text")
    if label_field is None and labels is not None:
        raise ValueError("labels is given but label_field is None: unlabelled text has no labels to map")
    label_map = None if labels is None else labels if isinstance(labels, LabelMap) else LabelMap(labels)
    tables = read_records(source, format=format, fields=fields, name="source")
    if split is None:
        if None not in tables:
            raise ValueError(f"source has the splits {', '.join(map(repr, tables))}: pick one with split=")
        table = tables[None]
    elif split not in tables:
        available = [name for name in tables if name is not None]
        raise ValueError(f"source has no split {split!r}{did_you_mean(split, available)}; its splits: "
                         f"{', '.join(map(repr, available)) or 'none (it is one table)'}")
    else:
        table = tables[split]
    return _encode(table, tokenizer, label_map, text_field, label_field, sense_field)


def split_by_fraction(count: int, validation_fraction: float, test_fraction: float,
                      seed: int) -> tuple[list[int], list[int], list[int]]:
    """Row indices of train, validation and test: a seeded shuffle of ``range(count)`` whose
    first ``round(count * test_fraction)`` rows are test and next ``round(count *
    validation_fraction)`` validation; each list in ascending order."""
    order = list(range(check_int("count", count, minimum=0)))
    random.Random(f"qembed.data.TextCorpus:{seed}:split").shuffle(order)
    num_test = int(count * test_fraction + 0.5)
    num_val = min(int(count * validation_fraction + 0.5), count - num_test)
    return (sorted(order[num_test + num_val:]), sorted(order[num_test:num_test + num_val]),
            sorted(order[:num_test]))


# -- reading ------------------------------------------------------------------------


def _check_fields(text_field: Any, label_field: Any, sense_field: Any) -> list[str]:
    for name, value, optional in (("text_field", text_field, False), ("label_field", label_field, True),
                                  ("sense_field", sense_field, True)):
        if not (isinstance(value, str) and value) and not (optional and value is None):
            kind = "a field name or None" if optional else "a field name"
            raise TypeError(f"{name} must be {kind}, got {quoted(value)}")
    fields = [field for field in (text_field, label_field, sense_field) if field is not None]
    if len(set(fields)) != len(fields):
        raise ValueError(f"text_field, label_field and sense_field must name different fields, got {fields}")
    return fields


def _tokenizer_source(tokenizer: Any) -> Any:
    if isinstance(tokenizer, TextTokenizer) or tokenizer in ALGORITHMS:
        return tokenizer
    if isinstance(tokenizer, (str, os.PathLike)) and Path(tokenizer).exists():
        return tokenizer
    # the name alone: a run config makes a path absolute, and 'wordpeice' is still a misspelled algorithm
    hint = did_you_mean(Path(tokenizer).name, ALGORITHMS) if isinstance(tokenizer, (str, os.PathLike)) else ""
    raise ValueError(f"tokenizer must be 'bpe', 'wordpiece', a tokenizer folder or a TextTokenizer, got "
                     f"{quoted(tokenizer)}{hint} (no such folder)")


def _splits(train: Any, validation: Any, test: Any, *, format: str | None,
            fields: list[str]) -> dict[str, Records | None]:
    tables = read_records(train, format=format, fields=fields, name="train")
    if None in tables:
        found: dict[str, Records | None] = {"train": tables[None], "validation": None, "test": None}
    else:
        if "train" not in tables:
            raise ValueError(f"train has the splits {', '.join(map(repr, tables))} but no 'train' split"
                             f"{did_you_mean('train', [name for name in tables if name])}")
        found = {name: tables.get(name) for name in ("train", "validation", "test")}
    for name, source in (("validation", validation), ("test", test)):
        if source is None:
            continue
        if found[name] is not None:
            raise ValueError(f"{name} is given twice: as the {name!r} split of train and as {name}=")
        read = read_records(source, format=format, fields=fields, name=name)
        if None not in read:
            raise ValueError(f"{name} must be one table, got one with the splits {', '.join(map(repr, read))}")
        found[name] = read[None]
    return found


def _fraction_splits(tables: dict[str, Records | None], validation_fraction: float, test_fraction: float,
                     seed: int) -> dict[str, Records]:
    train = tables["train"]
    assert train is not None
    drawn = {"validation": validation_fraction if tables["validation"] is None else 0.0,
             "test": test_fraction if tables["test"] is None else 0.0}
    indices = dict(zip(("train", "validation", "test"),
                       split_by_fraction(len(train.rows), drawn["validation"], drawn["test"], seed)))
    result = {}
    for name in ("train", "validation", "test"):
        given = tables[name]
        if given is not None and name != "train":
            result[name] = given
        else:
            rows = indices[name]
            result[name] = Records([train.rows[i] for i in rows], train.where, train.unit,
                                   [train.numbers[i] for i in rows])
    return result


def _texts(table: Records, text_field: str) -> list[str]:
    texts = []
    for index, row in enumerate(table.rows):
        text = row[text_field]
        if not isinstance(text, str):
            raise ValueError(f"{table.location(index)}: {text_field!r} must be a text, got {quoted(text)}")
        if not text.strip():
            raise ValueError(f"{table.location(index)}: {text_field!r} is an empty text")
        texts.append(text)
    return texts


def _labels(table: Records, label_field: str) -> list[Any]:
    values = []
    for index, row in enumerate(table.rows):
        value = row[label_field]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"{table.location(index)}: {label_field!r} has no label")
        values.append(value)
    return values


def _word_senses(value: Any, words: int, where: str) -> list[int | None]:
    """One sense index (or ``None``) per whitespace word, from a list or a space-separated string."""
    if value is None:
        return [None] * words
    entries = value.split() if isinstance(value, str) else value
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"{where} must be a list or a space-separated string of sense indices, got {quoted(value)}")
    if len(entries) != words:
        raise ValueError(f"{where} has {len(entries)} entries for a text of {words} words: give one per "
                         "word, with null, '' or '-' for a word without a sense")
    senses: list[int | None] = []
    for entry in entries:
        if entry in NO_SENSE:
            senses.append(None)
            continue
        number = entry
        if isinstance(entry, str) and entry.isdigit():
            number = int(entry)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"{where}: a sense must be an integer >= 0 (or null, '' or '-'), got {quoted(entry)}")
        senses.append(number)
    return senses


def _encode(table: Records, tokenizer: TextTokenizer, labels: LabelMap | None, text_field: str,
            label_field: str | None, sense_field: str | None, given_split: str | None = None) -> TextDataset:
    """``given_split``: the name of a validation / test source given apart from train whose
    labels must be among those the label map took from train (a label missing there is
    refused as such)."""
    texts = _texts(table, text_field)
    names = [table.location(index) for index in range(len(texts))]
    encoded = tokenizer.encode(texts, names=names) if texts else []
    input_ids = [torch.tensor(item.ids, dtype=torch.long) for item in encoded]
    label_ids = None
    if label_field is not None and labels is not None:
        ids = []
        for index, value in enumerate(_labels(table, label_field)):
            try:
                ids.append(labels.encode(value))
            except ValueError as err:
                if given_split is not None:
                    shown = ", ".join(map(repr, labels.names[:20])) + (", ..." if len(labels) > 20 else "")
                    raise ValueError(
                        f"{names[index]}: {str(value)!r} is a label of the {given_split} data not in the train data's "
                        f"labels ({shown}): the label map is built from the train data, so a model trained on it "
                        f"cannot predict {str(value)!r}; add train rows labelled {str(value)!r}, or pass labels= "
                        "naming every label") from err
                raise ValueError(f"{names[index]}: {err}") from err
        label_ids = torch.tensor(ids, dtype=torch.long)
    sense_ids = None
    if sense_field is not None:
        sense_ids = []
        for index, item in enumerate(encoded):
            senses = _word_senses(table.rows[index][sense_field], len(texts[index].split()),
                                  f"{names[index]}: {sense_field!r}")
            row, previous = [], None
            for word in item.word_ids:
                sense = senses[word] if word is not None and word != previous else None
                row.append(IGNORE_INDEX if sense is None else sense)
                previous = word
            sense_ids.append(torch.tensor(row, dtype=torch.long))
    return TextDataset(texts, input_ids, label_ids, sense_ids)
