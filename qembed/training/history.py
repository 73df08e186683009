"""The training history: a dict of per-epoch lists, the seed's ``history``."""

from __future__ import annotations

from collections.abc import Mapping


class History(dict[str, list[float]]):
    """``history["train_loss"][epoch]``; a plain dict (JSON-serialisable) whose
    lists grow by one entry per epoch, and across ``train`` calls."""

    def append(self, row: Mapping[str, float]) -> None:
        for key, value in row.items():
            self.setdefault(key, []).append(value)

    def last(self, key: str, default: float | None = None) -> float | None:
        values = self.get(key)
        return values[-1] if values else default
