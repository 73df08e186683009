"""Sends one trainer's lifecycle to its loggers (``trainer.loggers``).

This module is the plugin a trainer with loggers registers in its own registry: each
lifecycle hook becomes the :class:`~qembed.plugins.contracts.Logger` calls, on the main
process only. ``train/<metric>`` every ``log_every_n_steps`` optimizer steps and
``val/<metric>`` after every validation, both at the global step; ``epoch/<metric>`` (and
the last batch's distributions) at the epoch number; the hyperparameters at the start
and the final epoch's metrics at the end. ``QuantumTrainer.test`` calls :func:`log_test`
itself (no lifecycle hook: plugins steering training never see test results).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor

from qembed.plugins.contracts import LogsDistributions
from qembed.plugins.markers import hookimpl
from qembed.training.batches import field

if TYPE_CHECKING:
    from qembed.training.trainer import QuantumTrainer

#: What ``loggers=None`` picks: TensorBoard when the trainer has a ``log_dir``.
DEFAULT_LOGGERS = ("tensorboard",)


def logger_specs(loggers: Sequence[Any] | None, log_dir: object) -> list[Any]:
    """The logger specs a trainer builds: ``loggers`` as given, or the default."""
    if loggers is None:
        return list(DEFAULT_LOGGERS) if log_dir is not None else []
    if isinstance(loggers, (str, Mapping)) or not isinstance(loggers, Sequence):
        raise TypeError(f"loggers must be a list of logger names, {{'name': ...}} specs or loggers, got {loggers!r}")
    return list(loggers)


def _epoch_distributions(outputs: Any) -> dict[str, Tensor]:
    """The epoch's last batch's sense probabilities and (real) pair entanglements, flat on the CPU."""
    values: dict[str, Tensor] = {}
    probabilities = field(outputs, "sense_probabilities")
    if probabilities is not None:
        values["sense_probabilities"] = probabilities.detach().float().flatten().cpu()
    pairs, mask = field(outputs, "pair_entanglement"), field(outputs, "pair_mask")
    if pairs is not None and mask is not None and bool(mask.any()):
        values["pair_entanglement"] = pairs.detach().float()[mask].cpu()
    return values


@hookimpl
def qembed_on_train_start(trainer: QuantumTrainer) -> None:
    if trainer.is_main_process:
        for logger in trainer.loggers:
            logger.start(trainer.global_step)
            logger.log_hyperparameters(trainer.hyperparameters)


@hookimpl
def qembed_on_log(trainer: QuantumTrainer, step: int, metrics: Mapping[str, float]) -> None:
    if trainer.is_main_process:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step, "train")


@hookimpl
def qembed_on_validation_end(trainer: QuantumTrainer, epoch: int, metrics: Mapping[str, float]) -> None:
    if trainer.is_main_process:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, trainer.global_step, "val")


@hookimpl
def qembed_on_epoch_end(trainer: QuantumTrainer, epoch: int, metrics: Mapping[str, float]) -> None:
    if not trainer.is_main_process:
        return
    row = {name: value for name, value in metrics.items() if name != "epoch"}
    distributions: dict[str, Tensor] | None = None  # read once, for the loggers that want them
    for logger in trainer.loggers:
        if isinstance(logger, LogsDistributions):
            if distributions is None:
                distributions = _epoch_distributions(trainer.last_outputs)
            if distributions:
                logger.log_distributions(distributions, epoch, "epoch")
        logger.log_metrics(row, epoch, "epoch")  # last: a logger may flush the epoch here


@hookimpl
def qembed_on_train_end(trainer: QuantumTrainer, history: Mapping[str, list[float]]) -> None:
    if trainer.is_main_process:
        summary = {name: values[-1] for name, values in history.items()
                   if name != "epoch" and values and isinstance(values[-1], (int, float))}
        for logger in trainer.loggers:
            logger.finish(summary)


def log_test(trainer: QuantumTrainer, metrics: Mapping[str, float]) -> None:
    """One test's metrics as a logger run of its own: started at the global step, the
    hyperparameters, ``test/<metric>`` at the global step, finished with the metrics as
    ``test_<metric>`` (a logger may be started again after ``finish``)."""
    summary = {f"test_{name}": value for name, value in metrics.items()}
    for logger in trainer.loggers:
        logger.start(trainer.global_step)
        logger.log_hyperparameters(trainer.hyperparameters)
        logger.log_metrics(metrics, trainer.global_step, "test")
        logger.finish(summary)
