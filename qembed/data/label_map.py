"""``LabelMap``: the label names of a text dataset and their ids, saved beside a model."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from qembed.arguments import check_int, quoted
from qembed.data._checks import did_you_mean, write_atomically

_FORMAT = "qembed-labels"
_VERSION = 1
_INTEGER = re.compile(r"-?[0-9]+")


class LabelMap:
    """Label names in id order: ``encode("positive") -> 1``, ``decode(1) -> "positive"``.

    Values are compared as strings (``str(value)``), so a label written ``1`` in JSON and
    ``"1"`` in CSV is the same label.
    """

    def __init__(self, names: Sequence[str]) -> None:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise TypeError(f"names must be a sequence of strings, got {quoted(names)}")
        listed = list(names)
        for name in listed:
            if not isinstance(name, str) or not name:
                raise ValueError(f"names: every label must be a non-empty string, got {quoted(name)}")
        if not listed:
            raise ValueError("names must hold at least 1 label, got none")
        self._ids = {name: index for index, name in enumerate(listed)}
        if len(self._ids) != len(listed):
            repeated = next(name for name in listed if listed.count(name) > 1)
            raise ValueError(f"names: label {repeated!r} appears more than once")
        self.names: tuple[str, ...] = tuple(listed)

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> LabelMap:
        """The distinct values as strings, sorted (integers in numeric order, before other names)."""
        distinct = {str(value) for value in values}
        return cls(sorted(distinct, key=_order))

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, value: object) -> bool:
        return str(value) in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelMap) and other.names == self.names

    def __hash__(self) -> int:
        return hash(self.names)

    def encode(self, value: Any) -> int:
        """The id of ``value`` (compared as a string); an unknown label raises ``ValueError``."""
        name = str(value)
        if name not in self._ids:
            shown = ", ".join(map(repr, self.names[:20])) + (", ..." if len(self) > 20 else "")
            raise ValueError(f"unknown label {name!r}{did_you_mean(name, self.names)}; the labels are {shown}")
        return self._ids[name]

    def decode(self, index: int) -> str:
        """The name of label id ``index``."""
        return self.names[check_int("index", index, minimum=0, maximum=len(self) - 1)]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the names as JSON (``{"format": "qembed-labels", "version": 1, "names": [...]}``)."""
        document = {"format": _FORMAT, "version": _VERSION, "names": list(self.names)}
        write_atomically(path, json.dumps(document, indent=2, ensure_ascii=False).encode())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LabelMap:
        """Read a file written by :meth:`save`."""
        try:
            document = json.loads(Path(path).read_text())
            if not isinstance(document, dict) or document.get("format") != _FORMAT:
                raise ValueError(f"not a {_FORMAT} file")
            if document.get("version") != _VERSION:
                raise ValueError(f"version {document.get('version')!r}, expected {_VERSION}")
            return cls(document["names"])
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise ValueError(f"label map {str(path)!r} does not load: {err}") from err

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.names)!r})"


def _order(name: str) -> tuple[int, int, str]:
    return (0, int(name), name) if _INTEGER.fullmatch(name) else (1, 0, name)
