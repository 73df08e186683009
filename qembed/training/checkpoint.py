"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint is a dict of tensors and plain types (it loads with
``torch.load(weights_only=True)``): the model, optimizer and grad-scaler state, the
replay buffer, the run's position (epoch, step, where the run started and how long it
is; for ``interrupted.pth`` also how far the stopped epoch got), the early-stopping state, the history, the resolved config (components by name
and options, never pickled objects), the LR scheduler's position and every RNG state.
In a distributed run, every other rank writes its own replay
buffer and RNG states beside it (``last.rank1.pth``, ...). It carries a format version;
a file from a newer qembed is refused with the version it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from qembed.training import rng_state
from qembed.training.checkpoint_io import load_state_dict_checked

if TYPE_CHECKING:
    from qembed.training.trainer import QuantumTrainer

FORMAT = "qembed-training-checkpoint"
VERSION = 1


@attrs.define
class RunState:
    """Where a ``train`` call stands: what resume needs beyond the weights."""

    start_epoch: int  # the epoch the run started at
    num_epochs: int  # epochs the run was asked for
    steps_per_epoch: int  # optimizer steps per epoch (fixes the schedule's horizon)
    run_step: int = 0  # optimizer steps taken in this run
    best: float = float("inf")  # best monitored loss so far
    stale: int = 0  # epochs since it improved

    @property
    def total_steps(self) -> int:
        return self.num_epochs * self.steps_per_epoch

    @property
    def end_epoch(self) -> int:
        return self.start_epoch + self.num_epochs


def build(trainer: QuantumTrainer, run: RunState | None, sampler_generator: Any = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_state": trainer.model.state_dict(),
        "optimizer_state": trainer.optimizer.state_dict(),
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
    path = Path(path)
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def build_rank_part(trainer: QuantumTrainer, sampler_generator: Any = None) -> dict[str, Any]:
    """What differs between ranks of a distributed run: the replay buffer and the RNGs."""
    return {"format": FORMAT + "-rank", "version": VERSION, "replay_state": trainer.replay.state_dict(),
            "rng": rng_state.capture(sampler_generator), "position": trainer._position_state()}


def restore_rank_part(trainer: QuantumTrainer, state: Any, path: Any, sampler_generator: Any = None) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT + "-rank":
        raise ValueError(f"{str(path)!r} is not a rank's part of a qembed training checkpoint")
    trainer.replay.load_state_dict(state["replay_state"])
    rng_state.restore(state["rng"], sampler_generator)


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


def restore(trainer: QuantumTrainer, state: dict[str, Any], sampler_generator: Any = None) -> RunState | None:
    """Put the trainer back where the checkpoint left it; returns the run's state."""
    load_state_dict_checked(trainer.model, state["model_state"], "the checkpoint")
    trainer._applied_probability = None  # the checkpoint brought its own collapse probability
    trainer.optimizer.load_state_dict(state["optimizer_state"])
    trainer.scaler.load_state_dict(state["scaler_state"])
    _restore_lr_scheduler(trainer, state.get("lr_scheduler_state"))
    trainer.replay.load_state_dict(state["replay_state"])
    trainer.epoch = state["epoch"]
    trainer.global_step = state["global_step"]
    trainer.training_history.clear()
    trainer.training_history.update({key: list(values) for key, values in state["history"].items()})
    rng_state.restore(state["rng"], sampler_generator)
    return RunState(**state["run"]) if state["run"] is not None else None


def _restore_lr_scheduler(trainer: QuantumTrainer, state: dict[str, Any] | None) -> None:
    """The scheduler's position; a checkpoint and a trainer that disagree on having one
    would silently change the learning rate, so that is an error."""
    if (state is None) != (trainer.lr_scheduler is None):
        has = "has an lr_scheduler" if trainer.lr_scheduler is not None else "has no lr_scheduler"
        saved = "no" if state is None else "an"
        raise ValueError(f"the checkpoint holds {saved} lr_scheduler state but this trainer {has}; "
                         "resume with the lr_scheduler the run was started with")
    if state is not None:
        trainer.lr_scheduler.load_state_dict(state)
