"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint is a dict of tensors and plain types (it loads with
``torch.load(weights_only=True)``): the model, optimizer and grad-scaler state, the
replay buffer, the run's position (epoch, step, where the run started and how long it
is; for ``interrupted.pth`` also how far the stopped epoch got), the early-stopping state, the history, the resolved config (components by name
and options, never pickled objects), the LR scheduler's position and every RNG state.
In a distributed run, every other rank writes its own replay
buffer and RNG states beside it (``last.rank1.pth``, ...). It carries a format version;
a file from a newer qembed is refused with the version it needs.

Resuming checks everything first (:func:`validate`: the model's parameters, non-finite
weights, the optimizer, scaler, LR scheduler, replay buffer, RNG states and the run's
position) and only then changes the trainer (:func:`apply`): a refused checkpoint leaves
the trainer exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch

from qembed.training import rng_state
from qembed.training.config_change import (
    check_unchangeable,
    keep_learning_rates,
    optimizer_class,
    report_changes,
)
from qembed.training.checkpoint_io import check_finite, check_state_dict_fits

if TYPE_CHECKING:
    from qembed.training.trainer import QuantumTrainer

FORMAT = "qembed-training-checkpoint"
#: 2: a mid-epoch position names its metric sums (``metric_names``); version 1 files still load
VERSION = 2


@attrs.define
class RunState:
    """Where a ``train`` call stands: what resume needs beyond the weights."""

    start_epoch: int  # the epoch the run started at
    num_epochs: int  # epochs the run was asked for
    steps_per_epoch: int  # optimizer steps per epoch (fixes the schedule's horizon)
    run_step: int = 0  # optimizer steps taken in this run
    best: float = float("inf")  # best monitored score so far (lower is better: see qembed.training.monitor)
    stale: int = 0  # monitor checks since it improved
    max_steps: int | None = None  # the most optimizer steps the run takes (None: its epochs')
    kept: list[list[float | str]] = attrs.field(factory=list)  # the top-k checkpoints: [score, file name], best first
    log_dir: str | None = None  # the folder the run writes (a version_N folder when train() chose one)

    @property
    def total_steps(self) -> int:
        epochs = self.num_epochs * self.steps_per_epoch
        return epochs if self.max_steps is None else min(epochs, self.max_steps)

    @property
    def end_epoch(self) -> int:
        return self.start_epoch + self.num_epochs


def build(trainer: QuantumTrainer, run: RunState | None, sampler_generator: Any = None) -> dict[str, Any]:
    optimizer = trainer.require_optimizer("a training checkpoint")
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_state": trainer.model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "optimizer_class": optimizer_class(optimizer),
        "scaler_state": trainer.scaler.state_dict(),
        "lr_scheduler_state": trainer.lr_scheduler.state_dict() if trainer.lr_scheduler is not None else None,
        "replay_state": trainer.replay.state_dict(),
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "run": attrs.asdict(run) if run is not None else None,
        "position": trainer._position_state(),  # mid-epoch: how far the epoch got (else None)
        "history": {key: list(values) for key, values in trainer.training_history.items()},
        "config": trainer.config.to_dict(),
        "rng": rng_state.capture(sampler_generator),
    }


def rank_path(path: Any, rank: int) -> Path:
    """Where rank ``rank`` (> 0) keeps its own part of the checkpoint at ``path``."""
    file = Path(path)
    return file.with_name(f"{file.stem}.rank{rank}{file.suffix}")


def build_rank_part(trainer: QuantumTrainer, sampler_generator: Any = None) -> dict[str, Any]:
    """What differs between ranks of a distributed run: the replay buffer and the RNGs."""
    return {"format": FORMAT + "-rank", "version": VERSION, "replay_state": trainer.replay.state_dict(),
            "rng": rng_state.capture(sampler_generator), "position": trainer._position_state()}


def check_rank_part(trainer: QuantumTrainer, state: Any, path: Any, sampler_generator: Any = None) -> dict[str, Any]:
    """A rank's part of a checkpoint, checked against this rank's trainer (nothing changed)."""
    source = repr(str(path))
    if not isinstance(state, dict) or state.get("format") != FORMAT + "-rank":
        raise ValueError(f"{source} is not a rank's part of a qembed training checkpoint")
    _require(state, ("replay_state", "rng"), source)
    _check_replay(trainer.replay, state["replay_state"], source)
    _check_rng(state["rng"], sampler_generator, source)
    return state


def check_format(state: Any, path: Any) -> dict[str, Any]:
    """The checkpoint dict, or an error saying what the file is and what is needed."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a qembed training checkpoint (no format {FORMAT!r}); "
                         "to load bare weights use trainer.load_model(path)")
    version = state.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{str(path)!r} is a version {version} checkpoint; this qembed reads versions up to "
                         f"{VERSION}: upgrade qembed to resume it")
    return state


KEYS = ("model_state", "optimizer_state", "scaler_state", "replay_state", "epoch", "global_step", "run",
        "history", "rng")


def validate(trainer: QuantumTrainer, state: dict[str, Any], path: Any = "the checkpoint",
             sampler_generator: Any = None) -> RunState | None:
    """Check that ``state`` can be restored into ``trainer``, changing nothing; returns
    the run's state. Errors name the file and what is wrong."""
    source = repr(str(path))
    optimizer = trainer.require_optimizer("resuming a checkpoint")
    _require(state, KEYS, source)
    check_unchangeable(state, trainer.config, optimizer, source)
    check_state_dict_fits(trainer.model, state["model_state"], f"the model state in {source}")
    for key in ("model_state", "optimizer_state", "scaler_state"):
        check_finite(state[key], key, source)
    _check_lr_scheduler(trainer, state.get("lr_scheduler_state"), source)
    _check_optimizer(optimizer, state["optimizer_state"], source)
    _check_scaler(trainer.scaler, state["scaler_state"], source)
    _check_replay(trainer.replay, state["replay_state"], source)
    _check_rng(state["rng"], sampler_generator, source)
    for key in ("epoch", "global_step"):
        if isinstance(state[key], bool) or not isinstance(state[key], int) or state[key] < 0:
            raise ValueError(f"{source} holds {key} {state[key]!r}, not an integer >= 0")
    history = state["history"]
    if not isinstance(history, Mapping) or not all(isinstance(v, list) for v in history.values()):
        raise ValueError(f"{source} holds no history (a mapping of metric names to lists)")
    return _run_state(state["run"], source)


def apply(trainer: QuantumTrainer, state: dict[str, Any], sampler_generator: Any = None) -> None:
    """Put the trainer where a :func:`validate`-d checkpoint left it."""
    trainer.model.load_state_dict(state["model_state"])
    trainer._applied_probability = None  # the checkpoint brought its own collapse probability
    optimizer = trainer.require_optimizer("resuming a checkpoint")
    wanted_lrs = [group["lr"] for group in optimizer.param_groups]
    optimizer.load_state_dict(state["optimizer_state"])
    if trainer.lr_scheduler is None:  # a resumed scheduler owns the rates; otherwise the trainer's apply
        keep_learning_rates(optimizer, wanted_lrs, "the checkpoint")
    report_changes(state, trainer.config, "the checkpoint")
    trainer.scaler.load_state_dict(state["scaler_state"])
    if trainer.lr_scheduler is not None:
        trainer.lr_scheduler.load_state_dict(state["lr_scheduler_state"])
    trainer.replay.load_state_dict(state["replay_state"])
    trainer.epoch = state["epoch"]
    trainer.global_step = state["global_step"]
    trainer.training_history.clear()
    trainer.training_history.update({key: list(values) for key, values in state["history"].items()})
    rng_state.restore(state["rng"], sampler_generator)


def _require(state: Mapping[str, Any], keys: tuple[str, ...], source: str) -> None:
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"{source} is incomplete: it has no {', '.join(missing)}")


def _run_state(saved: Any, source: str) -> RunState | None:
    if saved is None:
        return None
    fields = {field.name for field in attrs.fields(RunState)}
    required = {field.name for field in attrs.fields(RunState) if field.default is attrs.NOTHING}
    if not isinstance(saved, Mapping) or not required <= set(saved) <= fields:  # older files lack later fields
        raise ValueError(f"{source} holds an unreadable run position (expected the fields {sorted(fields)})")
    return RunState(**saved)


def _check_optimizer(optimizer: torch.optim.Optimizer, saved: Any, source: str) -> None:
    """The checks ``Optimizer.load_state_dict`` makes, and that the saved hyperparameters
    are this optimizer's (another optimizer's state loads, then fails at its first step)."""
    name = type(optimizer).__name__
    if not isinstance(saved, Mapping) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("state"), Mapping):
        raise ValueError(f"{source} holds no optimizer state_dict (state and param_groups)")
    groups, saved_groups = optimizer.param_groups, saved["param_groups"]
    if len(groups) != len(saved_groups):
        raise ValueError(f"the optimizer state in {source} has {len(saved_groups)} parameter groups; this "
                         f"trainer's {name} has {len(groups)}")
    for index, (own, theirs) in enumerate(zip(groups, saved_groups)):
        if not isinstance(theirs, Mapping) or len(theirs.get("params", ())) != len(own["params"]):
            raise ValueError(f"the optimizer state in {source} has a different number of parameters in "
                             f"group {index} than this trainer's {name}")
        lacking = sorted(k for k in set(own) - set(theirs) if not isinstance(own[k], (bool, type(None))))
        if lacking:  # settings a scheduler or a newer torch adds (initial_lr, flags) are no sign
            extra = sorted(set(theirs) - set(own) - {"initial_lr"})
            also = f" (it has {', '.join(extra)} instead)" if extra else ""
            raise ValueError(f"the optimizer state in {source} is not a {name}'s: it lacks {name}'s "
                             f"{', '.join(lacking)}{also}; resume with the optimizer the run was started with")
    count = sum(len(group["params"]) for group in groups)
    if not all(isinstance(key, int) and 0 <= key < count for key in saved["state"]):
        raise ValueError(f"the optimizer state in {source} holds state for parameters this {name} does not have")


def _check_scaler(scaler: Any, saved: Any, source: str) -> None:
    own = scaler.state_dict()
    if own and (not isinstance(saved, Mapping) or set(saved) != set(own)):
        raise ValueError(f"{source} holds no usable grad-scaler state (expected the keys {sorted(own)})")


def _check_lr_scheduler(trainer: QuantumTrainer, saved: Any, source: str) -> None:
    """A checkpoint and a trainer that disagree on having a scheduler, or on which,
    would silently change the learning rate, so that is an error."""
    scheduler = trainer.lr_scheduler
    if (saved is None) != (scheduler is None):
        has = "has an lr_scheduler" if scheduler is not None else "has no lr_scheduler"
        held = "no" if saved is None else "an"
        raise ValueError(f"{source} holds {held} lr_scheduler state but this trainer {has}; "
                         "resume with the lr_scheduler the run was started with")
    if scheduler is None:
        return
    lacking = sorted(k for k in scheduler.state_dict() if not k.startswith("_") and k not in saved) \
        if isinstance(saved, Mapping) else ["everything"]
    if lacking:
        raise ValueError(f"the lr_scheduler state in {source} is not a {type(scheduler).__name__}'s (it lacks "
                         f"{', '.join(lacking)}); resume with the lr_scheduler the run was started with")


def _check_replay(replay: Any, saved: Any, source: str) -> None:
    """Load the replay state into a copy of the buffer: what it refuses is refused here."""
    try:
        twin = copy.deepcopy(replay)
    except Exception:  # a plugin buffer that cannot be copied is checked only when applied
        return
    try:
        twin.load_state_dict(saved)
    except Exception as err:
        raise ValueError(f"the replay state in {source} does not fit this trainer's replay strategy: {err}") from err


def _check_rng(saved: Any, sampler_generator: Any, source: str) -> None:
    if not rng_state.fits(saved, sampler_generator):
        raise ValueError(f"{source} holds unreadable random-number-generator states")
