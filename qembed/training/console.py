"""The per-epoch table of the main metrics, printed as the epochs finish.

One implementation for ``QuantumTrainer(epoch_table=True)`` and ``qembed train``: a
lifecycle plugin that writes a row per finished epoch (a resumed run's earlier epochs
first) through ``tqdm.write``, so it never tears a progress bar. Epochs are numbered
from 0, as the history, TensorBoard and the plots number them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from tqdm.auto import tqdm

from qembed.plugins import hookimpl

#: (history key, column title, width, decimals); the loss is the epoch's mean over its batches.
COLUMNS: tuple[tuple[str, str, int, int], ...] = (
    ("epoch", "epoch", 5, 0),
    ("train_loss", "train_loss(epoch mean)", 22, 4),
    ("val_loss", "val_loss", 8, 4),
    ("val_accuracy", "val_acc", 7, 3),
    ("uncertainty", "uncertainty", 11, 4),
    ("collapse_probability", "collapse_p", 10, 3),
)
HEADER = "  ".join(f"{title:>{width}}" for _, title, width, _ in COLUMNS)


def table_row(metrics: Mapping[str, Any]) -> str:
    """One epoch's row; ``-`` for a metric the run does not have (no validation)."""
    cells = []
    for key, _, width, decimals in COLUMNS:
        value = metrics.get(key)
        cells.append(f"{value:>{width}.{decimals}f}" if value is not None else f"{'-':>{width}}")
    return "  ".join(cells)


class EpochTable:
    """Lifecycle plugin printing the table on stdout; ``rows_printed`` counts this run's epochs."""

    def __init__(self) -> None:
        self.rows_printed = 0

    @hookimpl
    def qembed_on_train_start(self, trainer: Any) -> None:
        if trainer.is_main_process:
            _write(f"\n{HEADER}")
            history = trainer.training_history
            for index in range(len(history.get("epoch", []))):
                _write(table_row({key: values[index] for key, values in history.items() if index < len(values)}))

    @hookimpl
    def qembed_on_epoch_end(self, trainer: Any, epoch: int, metrics: Mapping[str, float]) -> None:
        if trainer.is_main_process:
            _write(table_row(metrics))
            self.rows_printed += 1


def _write(line: str) -> None:
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()
