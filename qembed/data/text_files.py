"""Reading text datasets: JSON Lines, CSV, TSV, plain text and Hugging Face ``datasets``.

:func:`read_records` turns a file, a ``save_to_disk`` folder or a Python object into rows
(dicts of the named fields), each with its place in the source for error messages.
``datasets`` is imported only for a dataset folder or object (the ``datasets`` extra).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from qembed.arguments import quoted
from qembed.data._checks import did_you_mean

#: The formats :func:`read_records` reads, and the file suffix of each (``datasets``: a folder).
FORMATS = ("jsonl", "csv", "tsv", "text", "datasets")
SUFFIXES = {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "text"}
#: The one field of a plain-text file.
TEXT_FIELD = "text"


@attrs.frozen
class Records:
    """Rows of one table; ``location(i)`` says where row ``i`` is: ``data.csv line 3`` (a file's
    line, 1-based, a CSV / TSV header being line 1) or ``train row 3`` (a dataset's or a list's
    row, 1-based)."""

    rows: list[dict[str, Any]]
    where: str
    unit: str
    numbers: list[int]

    def location(self, index: int) -> str:
        return f"{self.where} {self.unit} {self.numbers[index]}"


def read_records(source: Any, *, format: str | None = None, fields: Sequence[str] = (),
                 name: str = "data") -> dict[str | None, Records]:
    """Read ``source`` into tables keyed by split name (``None`` for a source of one table).

    ``source`` is a path (``.jsonl``, ``.csv``, ``.tsv``, ``.txt`` by suffix, a folder written
    by ``datasets``' ``save_to_disk``; ``format`` overrides the suffix), a ``datasets.Dataset``
    or ``DatasetDict`` (one table per split), or a list of dicts (``name`` names it in
    messages). Each row must hold every field in ``fields``.
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))} or None, got "
                         f"{quoted(format)}{did_you_mean(str(format), FORMATS)}")
    if isinstance(source, (str, os.PathLike)):
        return _read_path(Path(source), format, fields)
    if format is not None:
        raise ValueError(f"format applies to a file or folder, not to {type(source).__name__} {name}")
    datasets = sys.modules.get("datasets")
    if datasets is not None and isinstance(source, (datasets.Dataset, datasets.DatasetDict)):
        return _from_dataset(source, name, fields)
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)) and all(
            isinstance(row, Mapping) for row in source):
        rows = [dict(row) for row in source]
        numbers = list(range(1, len(rows) + 1))
        _check_rows(rows, fields, name, "row", numbers)
        return {None: Records(rows, name, "row", numbers)}
    raise TypeError(f"{name} must be a path, a datasets.Dataset or DatasetDict, or a list of dicts, "
                    f"got {quoted(source)}")


def _read_path(path: Path, format: str | None, fields: Sequence[str]) -> dict[str | None, Records]:
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    if format is None:
        format = "datasets" if path.is_dir() else SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"cannot tell the format of {str(path)!r} from its suffix {path.suffix!r}: "
                             f"use {', '.join(SUFFIXES)} or a datasets folder, or pass format= one of "
                             f"{', '.join(map(repr, FORMATS))}")
    if format == "datasets":
        return _from_dataset(_load_from_disk(path), str(path), fields)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a {format} file")
    where = str(path)
    if format == "jsonl":
        rows, numbers = _read_jsonl(path)
        unit = "line"
    elif format == "text":
        extra = [field for field in fields if field != TEXT_FIELD]
        if extra:
            raise ValueError(f"{where} has no field {extra[0]!r}: a plain-text file holds one text per line, "
                             f"its one field is {TEXT_FIELD!r} (no labels)")
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        numbers = [number for number, line in enumerate(lines, 1) if line.strip()]
        rows = [{TEXT_FIELD: lines[number - 1]} for number in numbers]
        unit = "line"
    else:
        rows, numbers = _read_table(path, format, fields)
        unit = "line"
    _check_rows(rows, fields, where, unit, numbers)
    return {None: Records(rows, where, unit, numbers)}


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    rows, numbers = [], []
    with path.open(encoding="utf-8-sig") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {number} is not JSON: {err}") from err
            if not isinstance(row, dict):
                raise ValueError(f"{path} line {number} must be a JSON object, got {quoted(row)}")
            rows.append(row)
            numbers.append(number)
    return rows, numbers


def _read_table(path: Path, format: str, fields: Sequence[str]) -> tuple[list[dict[str, Any]], list[int]]:
    """CSV (quoted as Excel writes it) or TSV (tab-separated, no quoting), with a header row.

    Each row's number is the file line it starts on (1-based, the header's line counted), as an
    editor or a spreadsheet shows it; a quoted CSV cell may span lines, so it is the csv reader's
    ``line_num`` before the row is read, plus one. Blank lines are skipped, as ``csv.DictReader``
    skips them."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        if format == "csv":
            reader = csv.reader(stream)
        else:
            reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        header: list[str] | None = None
        rows, numbers = [], []
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not cells:
                continue
            if header is None:
                header = cells
                _check_fields(fields, header, str(path))
                continue
            row: dict[Any, Any] = {name: cells[i] if i < len(cells) else None for i, name in enumerate(header)}
            if len(cells) > len(header):
                row[None] = cells[len(header):]
            short = [field for field in fields if row.get(field) is None]
            if short:
                raise ValueError(f"{path} line {start} has no value for {short[0]!r}: it has fewer cells than "
                                 "the header")
            rows.append(row)
            numbers.append(start)
        if header is None:
            raise ValueError(f"{path} is empty: a {format.upper()} file starts with a header row naming its fields")
    return rows, numbers


def _load_from_disk(path: Path) -> Any:
    try:
        import datasets
    except ImportError as err:
        raise ValueError(f"{str(path)!r} is a folder, read as a Hugging Face dataset (save_to_disk), which needs "
                         "the datasets package: pip install 'qembed[datasets]'") from err
    try:
        return datasets.load_from_disk(str(path))
    except Exception as err:
        raise ValueError(f"{str(path)!r} does not load as a Hugging Face dataset folder (save_to_disk): "
                         f"{type(err).__name__}: {err}") from err


def _from_dataset(dataset: Any, where: str, fields: Sequence[str]) -> dict[str | None, Records]:
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return {split: _from_dataset(table, f"{where} split {split!r}", fields)[None]
                for split, table in dataset.items()}
    _check_fields(fields, dataset.column_names, where)
    rows = dataset.select_columns(list(dict.fromkeys(fields))).to_list() if fields else dataset.to_list()
    return {None: Records(rows, where, "row", list(range(1, len(rows) + 1)))}


def _check_fields(fields: Sequence[str], available: Sequence[str], where: str) -> None:
    for field in fields:
        if field not in available:
            raise ValueError(f"{where} has no field {field!r}{did_you_mean(field, available)}; its fields: "
                             f"{', '.join(map(repr, available)) or 'none'}")


def _check_rows(rows: list[dict[str, Any]], fields: Sequence[str], where: str, unit: str,
                numbers: list[int]) -> None:
    for row, number in zip(rows, numbers):
        _check_fields(fields, list(row), f"{where} {unit} {number}")
