"""The ``wandb`` logger: a Weights & Biases run (needs ``pip install 'qembed[wandb]'``).

Options: ``project`` (default ``"qembed"``), ``name`` (the run's), ``mode`` (``"online"``,
``"offline"`` or ``"disabled"``; ``None``: W&B's own setting, ``WANDB_MODE``) and ``dir``
(where W&B keeps its files; default the run folder). Metrics are logged as
``<section>/<metric>`` against W&B step metrics ``global_step`` (``train/``, ``val/``) and
``epoch`` (``epoch/``); the hyperparameters go to the run's config and the final metrics
to its summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qembed.plugins.contracts import HyperparameterValue
from qembed_plugins.extras import import_optional

MODES = ("online", "offline", "disabled")
#: the W&B step metric of each section
STEP_METRICS = {"train": "global_step", "val": "global_step", "epoch": "epoch"}


class WandbLogger:
    """Logs a run to W&B; ``run`` is the open ``wandb`` run while it trains."""

    def __init__(self, log_dir: Path | None, *, project: str = "qembed", name: str | None = None,
                 mode: str | None = None, dir: str | None = None) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))} or None, got {mode!r}")
        if dir is None and log_dir is None:
            raise ValueError("the wandb logger needs a folder for its files: give the trainer a log_dir or dir=")
        self._wandb = import_optional("wandb", "wandb")
        self.project, self.name, self.mode = project, name, mode
        self.dir = Path(dir if dir is not None else log_dir)  # type: ignore[arg-type]  # one of them is set
        self.run: Any | None = None

    def start(self, step: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run = self._wandb.init(project=self.project, name=self.name, mode=self.mode, dir=str(self.dir))
        for section, step_metric in STEP_METRICS.items():
            self.run.define_metric(step_metric, hidden=True)
            self.run.define_metric(f"{section}/*", step_metric=step_metric)

    def log_hyperparameters(self, params: Mapping[str, HyperparameterValue]) -> None:
        if self.run is not None:
            self.run.config.update(dict(params), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, float], step: int, section: str) -> None:
        if self.run is not None:
            self.run.log({STEP_METRICS.get(section, "global_step"): step,
                          **{f"{section}/{name}": value for name, value in metrics.items()}})

    def finish(self, summary: Mapping[str, float]) -> None:
        run, self.run = self.run, None
        if run is not None:
            run.summary.update(dict(summary))
            run.finish()
