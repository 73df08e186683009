"""The ``tensorboard`` logger: TensorBoard event files in the trainer's run folder.

Tags: ``train/<metric>`` every ``log_every_n_steps`` optimizer steps and ``val/<metric>``
after every validation, at the global step; ``epoch/<metric>`` once per epoch at the
epoch number, with histograms ``epoch/sense_probabilities`` and ``epoch/pair_entanglement``
of the epoch's last training batch; the hyperparameters as hparams with the final
metrics (``hparams/<metric>``), in the same run. The writer is flushed at every epoch end
and closed when training ends; a resumed run drops the points a crashed run wrote past
its checkpoint. TensorBoard itself is imported only when a run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from qembed.plugins.contracts import HyperparameterValue


class TensorBoardLogger:
    """Writes a run's metrics to TensorBoard event files in ``log_dir``. ``writer`` is
    the open ``SummaryWriter`` while a run trains."""

    def __init__(self, log_dir: Path | None) -> None:
        if log_dir is None:
            raise ValueError("the tensorboard logger writes event files into the run folder; give the trainer a log_dir")
        self.log_dir = Path(log_dir)
        self.writer: Any | None = None
        self._params: dict[str, HyperparameterValue] = {}
        self._epochs = 0  # epochs logged: the step of the final hparams scalars

    def start(self, step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir), purge_step=step + 1 if step else None)

    def log_hyperparameters(self, params: Mapping[str, HyperparameterValue]) -> None:
        self._params = dict(params)  # written with the final metrics, which hparams pairs them with

    def log_metrics(self, metrics: Mapping[str, float], step: int, section: str) -> None:
        if self.writer is None:
            return
        for name, value in metrics.items():
            self.writer.add_scalar(f"{section}/{name}", value, step)
        if section == "epoch":
            self._epochs = step + 1
            self.writer.flush()

    def log_distributions(self, values: Mapping[str, Tensor], step: int, section: str) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_histogram(f"{section}/{name}", value, step)

    def finish(self, summary: Mapping[str, float]) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        final = {f"hparams/{name}": value for name, value in summary.items()}
        for written in hparams(self._params, final):
            writer.file_writer.add_summary(written)
        for name, value in final.items():
            writer.add_scalar(name, value, self._epochs)
        writer.close()
