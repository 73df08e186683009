"""The training history: a dict of per-epoch lists, the seed's ``history``."""

from __future__ import annotations

from collections.abc import Mapping


class History(dict[str, list[float]]):
    """``history["train_loss"][epoch]``; a plain dict (JSON-serialisable) whose
    lists grow by one entry per epoch, and across ``train`` calls."""

    def append(self, row: Mapping[str, float]) -> None:
        for key, value in row.items():
            self.setdefault(key, []).append(value)

    def record(self, row: Mapping[str, float]) -> None:
        """Append ``row``, or replace the last row when it is the same epoch's (an epoch that
        ``max_steps`` stopped part-way, now complete)."""
        epochs = self.get("epoch")
        if epochs and row.get("epoch") == epochs[-1]:
            count = len(epochs)
            for values in self.values():
                if len(values) == count:
                    values.pop()
        self.append(row)

    def last(self, key: str, default: float | None = None) -> float | None:
        values = self.get(key)
        return values[-1] if values else default
