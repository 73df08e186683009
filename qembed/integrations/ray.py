"""Ray Tune: :func:`tune_trainable` turns a qembed training setup into a Tune function
trainable (``pip install "qembed[ray]"``, Ray 2.41 or later).

Each trial builds its own model, loaders, optimizer and loss from the trial's config and
trains them with :class:`~qembed.training.QuantumTrainer`. :class:`TuneReporter` reports
every epoch's history row (``val_loss``, ``val_accuracy``, ``uncertainty``, ...) with the
epoch's checkpoint, so Tune's schedulers see each epoch, and a failed or paused trial
continues from its last epoch (:func:`restore_from_tune`) instead of starting over.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from ray import tune
from torch import nn

from qembed.plugins.errors import did_you_mean
from qembed.plugins.markers import hookimpl
from qembed.training import ConfigError, QuantumTrainer, QuantumTrainingConfig
from qembed.training.seeding import seed_everything

#: The checkpoint ``QuantumTrainer.train(checkpoint_dir=...)`` rewrites after every epoch.
LAST_CHECKPOINT = "last.pth"

#: The keys a Tune config may set directly: every ``quantum_training_config`` key.
CONFIG_KEYS = tuple(field.name for field in attrs.fields(QuantumTrainingConfig))

Loaders = Sequence[Iterable[Any]]

__all__ = ["CONFIG_KEYS", "LAST_CHECKPOINT", "TuneReporter", "restore_from_tune", "tune_trainable"]


class TuneReporter:
    """Lifecycle plugin that reports each epoch's history row to Ray Tune with
    ``ray.tune.report``, after the epoch's validation.

    When ``train()`` writes checkpoints (``checkpoint_dir=``), the epoch's ``last.pth``
    goes with the report as the Tune checkpoint (a folder holding it alone). It reports at
    ``qembed_on_epoch_end`` because ``qembed_on_validation_end`` comes before the
    epoch's checkpoint is written: the metrics and the checkpoint then describe the
    same epoch.
    """

    def __init__(self) -> None:
        self._written: Path | None = None

    @hookimpl
    def qembed_on_checkpoint(self, path: str) -> None:
        if Path(path).name == LAST_CHECKPOINT:
            self._written = Path(path).parent

    @hookimpl
    def qembed_on_epoch_end(self, metrics: Mapping[str, Any]) -> None:
        folder, self._written = self._written, None
        row = {key: value if isinstance(value, int) else float(value) for key, value in metrics.items()}
        if folder is None:
            tune.report(row)
            return
        # the checkpoint alone (not the run's lock file, which Tune would copy while training holds it)
        with tempfile.TemporaryDirectory() as staging:
            shutil.copy2(folder / LAST_CHECKPOINT, staging)
            tune.report(row, checkpoint=tune.Checkpoint.from_directory(staging))


def restore_from_tune(checkpoint_dir: str | os.PathLike) -> Path | None:
    """What this trial continues from, for ``train(resume_from=...)``: Tune's latest
    checkpoint of the trial (after a failure, or a scheduler's pause) copied into
    ``checkpoint_dir``, its ``last.pth``; ``None`` when the trial starts fresh."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    checkpoint.to_directory(checkpoint_dir)
    path = Path(checkpoint_dir) / LAST_CHECKPOINT
    if not path.is_file():
        raise ValueError(f"Tune's checkpoint {checkpoint.path!r} holds no {LAST_CHECKPOINT}: it was not "
                         "reported by qembed's TuneReporter")
    return path


def tune_trainable(
    *,
    model: nn.Module | Callable[[Mapping[str, Any]], nn.Module],
    data: Loaders | Callable[[Mapping[str, Any]], Loaders],
    optimizer: str | Mapping[str, Any] | Callable[[Mapping[str, Any]], Any],
    loss_fn: Any = None,
    quantum_training_config: QuantumTrainingConfig | Mapping[str, Any] | None = None,
    num_epochs: int = 10,
    seed: int | None = None,
    plugins: Sequence[Any] = (),
) -> Callable[[dict[str, Any]], None]:
    """A Tune function trainable (``tune.Tuner(tune_trainable(...), param_space=...)``)
    that trains one trial for ``num_epochs`` epochs and reports every epoch.

    Every trial gets fresh components, also on an actor that ran an earlier trial
    (``reuse_actors=True``): ``model`` is a module or a callable of the trial's config;
    ``data`` is ``(train_loader, val_loader)`` or a callable returning them;
    ``optimizer`` a registered name or ``{"name": ...}`` spec, or a callable returning
    one (built over the trial's model by the trainer); ``loss_fn`` a name, spec, module
    or callable returning one of those. A value that is not a callable is deep-copied
    for each trial (loaders with their shuffling state); callables receive the config
    as a read-only mapping. The trainable is pickled to every trial with what it holds,
    so a callable that builds the data in the trial ships less than loaders do.

    A config key named like a ``quantum_training_config`` key overrides it in the base
    ``quantum_training_config``; every other key must be read by one of the callables,
    else the trial fails with a :class:`~qembed.training.ConfigError` naming it (a
    search over a key nothing reads would silently compare identical trials).
    ``seed`` seeds every trial the same way before its model is built; ``plugins`` are
    more lifecycle plugins for each trial's trainer.
    """
    base = QuantumTrainingConfig.from_value(quantum_training_config)  # a bad base fails here, not in each trial
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be an integer >= 1, got {num_epochs!r}")
    if optimizer is None:
        raise TypeError("optimizer is None, but every trial trains: give a name, a {'name': ...} spec or a callable "
                        "of the config returning one")
    if isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError("optimizer must be a name, a {'name': ...} spec or a callable of the config returning one: "
                        "an Optimizer object holds one model's parameters, and every trial builds its own model")

    def train_qembed(config: dict[str, Any]) -> None:
        tracked = _ReadTracking(config)
        if seed is not None:
            seed_everything(seed)
        trial_model = _for_trial(model, tracked)
        train_loader, val_loader = _loaders(_for_trial(data, tracked))
        trial_optimizer = _for_trial(optimizer, tracked)
        trial_loss = _for_trial(loss_fn, tracked)
        overrides = {key: value for key, value in config.items() if key in CONFIG_KEYS}
        _check_every_key_used(config, tracked.read | overrides.keys())
        trainer = QuantumTrainer(trial_model, trial_optimizer, trial_loss, attrs.evolve(base, **overrides),
                                 plugins=[*plugins, TuneReporter()], progress_bar=False, epoch_table=False,
                                 seed=seed)
        with tempfile.TemporaryDirectory(prefix="qembed-tune-") as folder:
            trainer.train(train_loader, val_loader, num_epochs, checkpoint_dir=folder,
                          resume_from=restore_from_tune(folder), keep_best_checkpoint=False)

    return train_qembed


class _ReadTracking(Mapping[str, Any]):
    """The trial's config, remembering which keys were read."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        value = self._config[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._config)

    def __len__(self) -> int:
        return len(self._config)


def _for_trial(value: Any, config: Mapping[str, Any]) -> Any:
    """A trial's own component: a callable's result for the config, or a copy of the
    value (a module, the loaders with their shuffling generators, a spec), so that a
    trial on an actor reused from an earlier trial (``TuneConfig(reuse_actors=True)``)
    starts exactly as on a fresh one."""
    if callable(value) and not isinstance(value, nn.Module):
        return value(config)
    return copy.deepcopy(value)


def _loaders(value: Any) -> tuple[Iterable[Any], Iterable[Any]]:
    if not isinstance(value, Sequence) or len(value) != 2 or value[1] is None:
        raise TypeError("data must be (train_loader, val_loader), or a callable of the config returning them "
                        f"(Tune compares trials on val_loss), got {type(value).__name__}")
    return value[0], value[1]


def _check_every_key_used(config: Mapping[str, Any], used: set[str]) -> None:
    unused = [key for key in config if key not in used]
    if unused:
        named = ", ".join(f"{key!r}{did_you_mean(str(key), CONFIG_KEYS)}" for key in unused)
        raise ConfigError(
            f"unused Tune config {'key' if len(unused) == 1 else 'keys'} {named}: every key must be a "
            "quantum_training_config key or be read by the model, data, optimizer or loss_fn callable of "
            "tune_trainable; read it there or leave it out of the param_space"
        )
