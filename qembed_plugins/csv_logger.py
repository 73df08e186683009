"""The ``csv`` logger: ``metrics.csv`` and ``hparams.yaml`` in the trainer's run folder.

``metrics.csv`` has one row per logged step: the columns ``section`` (``train``, ``val``
or ``epoch``) and ``step`` (the global step; the epoch number for ``epoch`` rows), then
one column per metric, named ``<section>/<metric>`` as the other loggers name them, empty
where a row has no value. The header grows: a row bringing a new metric rewrites the file
(atomically: a reader sees the old file or the new one) with the wider header, so every
row always has every column. A resumed run keeps the rows up to its restart step (a
fresh run at step 0 starts the file anew). ``hparams.yaml``: the hyperparameters.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import yaml

from qembed.plugins.contracts import HyperparameterValue

METRICS_FILE = "metrics.csv"
HPARAMS_FILE = "hparams.yaml"
FIXED_COLUMNS = ("section", "step")


class CSVLogger:
    """Writes a run's metrics to ``log_dir/metrics.csv`` and its hyperparameters to
    ``log_dir/hparams.yaml``."""

    def __init__(self, log_dir: Path | None) -> None:
        if log_dir is None:
            raise ValueError("the csv logger writes metrics.csv into the run folder; give the trainer a log_dir")
        self.log_dir = Path(log_dir)
        self.columns: list[str] = list(FIXED_COLUMNS)
        self._rows: list[dict[str, Any]] = []
        self._file: IO[str] | None = None

    @property
    def path(self) -> Path:
        return self.log_dir / METRICS_FILE

    def start(self, step: int) -> None:
        self.columns, self._rows = list(FIXED_COLUMNS), []
        if step and self.path.exists():
            with self.path.open(newline="") as existing:
                reader = csv.DictReader(existing)
                self.columns = list(reader.fieldnames or FIXED_COLUMNS)
                self._rows = [row for row in reader if row["section"] == "epoch" or int(row["step"]) <= step]
        self._rewrite()

    def log_hyperparameters(self, params: Mapping[str, HyperparameterValue]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / HPARAMS_FILE).open("w") as out:
            yaml.safe_dump(dict(params), out, sort_keys=False)

    def log_metrics(self, metrics: Mapping[str, float], step: int, section: str) -> None:
        if self._file is None:
            return
        row = {"section": section, "step": step, **{f"{section}/{name}": value for name, value in metrics.items()}}
        self._rows.append(row)
        new = [column for column in row if column not in self.columns]
        if new:
            self.columns.extend(new)
            self._rewrite()
        else:
            csv.DictWriter(self._file, self.columns).writerow(row)
            self._file.flush()

    def finish(self, summary: Mapping[str, float]) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rewrite(self) -> None:
        """Write every row under the current header into a new file that replaces the old, then append to it."""
        if self._file is not None:
            self._file.close()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{METRICS_FILE}.partial")
        with partial.open("w", newline="") as out:
            writer = csv.DictWriter(out, self.columns)
            writer.writeheader()
            writer.writerows(self._rows)
        os.replace(partial, self.path)
        self._file = self.path.open("a", newline="")
