"""The ``mlflow`` logger: an MLflow run (needs ``pip install 'qembed[mlflow]'``).

Options: ``tracking_uri`` (``None``: MLflow's own, ``MLFLOW_TRACKING_URI``; a local
store is ``"file:/path/mlruns"``), ``experiment_name`` (default ``"qembed"``, created
when missing) and ``run_name``. Metrics are logged as ``<section>/<metric>`` at their
step, a ``/`` within the metric's own name as ``.`` (``train/grad_norm.quantum``: MLflow's
file store keeps each metric as a file, and ``train/grad_norm`` is one already); the hyperparameters are the run's params (each value as a string, as MLflow keeps
them); the run ends ``FINISHED``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qembed.plugins.contracts import HyperparameterValue
from qembed_plugins.extras import import_optional

#: MLflow takes at most this many params or metrics in one call
BATCH = 100


def metric_key(section: str, name: str) -> str:
    """The MLflow key of metric ``name`` of ``section`` (see the module doc)."""
    return f"{section}/{name.replace('/', '.')}"


class MlflowLogger:
    """Logs a run to MLflow through its client (no global MLflow state); ``run_id`` is the
    open run's while it trains."""

    def __init__(self, log_dir: Path | None, *, tracking_uri: str | None = None, experiment_name: str = "qembed",
                 run_name: str | None = None) -> None:
        tracking = import_optional("mlflow.tracking", "mlflow")
        self._entities = import_optional("mlflow.entities", "mlflow")
        self.client: Any = tracking.MlflowClient(tracking_uri=tracking_uri)
        self.experiment_name, self.run_name = experiment_name, run_name
        self.run_id: str | None = None

    def start(self, step: int) -> None:
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else self.client.create_experiment(self.experiment_name))
        self.run_id = self.client.create_run(experiment_id, run_name=self.run_name).info.run_id

    def log_hyperparameters(self, params: Mapping[str, HyperparameterValue]) -> None:
        if self.run_id is None:
            return
        items = [self._entities.Param(name, str(value)) for name, value in params.items()]
        for first in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[first:first + BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int, section: str) -> None:
        if self.run_id is None:
            return
        now = int(time.time() * 1000)
        items = [self._entities.Metric(metric_key(section, name), float(value), now, step)
                 for name, value in metrics.items()]
        for first in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, metrics=items[first:first + BATCH])

    def finish(self, summary: Mapping[str, float]) -> None:
        run_id, self.run_id = self.run_id, None
        if run_id is not None:
            self.client.set_terminated(run_id)
