"""qembed's built-in loggers (the ``loggers`` entry point): ``tensorboard``, ``csv``, and
``wandb`` / ``mlflow`` behind their extras (imported when a trainer builds one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qembed import hookimpl
from qembed_plugins.csv_logger import CSVLogger
from qembed_plugins.mlflow_logger import MlflowLogger
from qembed_plugins.tensorboard import TensorBoardLogger
from qembed_plugins.wandb_logger import WandbLogger


@hookimpl
def qembed_register_loggers() -> Mapping[str, Callable[..., Any]]:
    return {"tensorboard": TensorBoardLogger, "csv": CSVLogger, "wandb": WandbLogger, "mlflow": MlflowLogger}
