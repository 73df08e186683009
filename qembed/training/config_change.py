"""What a resumed run may change: the rule between a checkpoint's config and the trainer's.

A change that cannot carry over is refused before anything is restored, in one line naming
the setting and both values: another optimizer class (its state means something else) or
another replay strategy (its buffer does). A change that can carry over takes effect and is
reported by name (:class:`ResumeChangeWarning`): every ``quantum_training_config`` key is
read afresh each step, and the learning rates the trainer's optimizer was built with replace
the checkpoint's (unless an LR scheduler is resumed, which owns them). The number of steps
per epoch is checked by the trainer itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch

from qembed.arguments import quoted
from qembed.training.config import QuantumTrainingConfig, replay_spec_of


class ResumeChangeWarning(UserWarning):
    """A setting that differs from the resumed checkpoint's and takes effect from now on."""


def optimizer_class(optimizer: torch.optim.Optimizer) -> str:
    """``module.QualifiedName`` of the optimizer's class, as a checkpoint records it."""
    kind = type(optimizer)
    return f"{kind.__module__}.{kind.__qualname__}"


def replay_name(value: Any) -> str | None:
    """The replay strategy a ``quantum_memory_replay`` value (or its saved form) names;
    ``None`` for an object, whose saved form is only its repr."""
    spec = replay_spec_of(value)
    if isinstance(spec, str) and not _is_object_repr(spec):
        return spec
    if isinstance(spec, Mapping) and isinstance(name := spec.get("name"), str):
        return name
    return None


def check_unchangeable(state: Mapping[str, Any], config: QuantumTrainingConfig, optimizer: torch.optim.Optimizer,
                       source: str) -> None:
    """Refuse, in one line, what a resume cannot carry over (nothing is changed)."""
    saved_class = state.get("optimizer_class")
    if saved_class is not None and saved_class != optimizer_class(optimizer):
        raise ValueError(f"{source} was trained with optimizer {saved_class}, this trainer has "
                         f"{optimizer_class(optimizer)}: optimizer state does not carry over to another class; "
                         "resume with the optimizer the run was started with")
    saved_config = state.get("config")
    if isinstance(saved_config, Mapping) and "quantum_memory_replay" in saved_config:
        before = replay_name(saved_config["quantum_memory_replay"])
        now = replay_name(config.quantum_memory_replay)
        if before is not None and now is not None and before != now:
            raise ValueError(f"{source}: quantum_memory_replay is {before!r} in the checkpoint and {now!r} now: "
                             "a replay buffer does not carry over to another strategy")


def _is_object_repr(value: Any) -> bool:
    """Whether a saved config value is the repr of an object (``<function f at 0x...>``): two of
    them differ from run to run whatever the objects, so they are not compared."""
    return isinstance(value, str) and value.startswith("<")


def report_changes(state: Mapping[str, Any], config: QuantumTrainingConfig, source: str) -> None:
    """Warn, by name, of every ``quantum_training_config`` key whose value differs from the
    checkpoint's: it applies from the first resumed step."""
    saved_config = state.get("config")
    if not isinstance(saved_config, Mapping):
        return
    current = config.to_dict()
    changed = [f"{key} {quoted(saved_config[key])} -> {quoted(value)}" for key, value in current.items()
               if key in saved_config and saved_config[key] != value
               and not (_is_object_repr(saved_config[key]) and _is_object_repr(value))]
    if changed:
        warnings.warn(f"resuming {source} with quantum_training_config changes, applied from the next step: "
                      + "; ".join(changed), ResumeChangeWarning, stacklevel=4)


def keep_learning_rates(optimizer: torch.optim.Optimizer, wanted: list[float], source: str) -> None:
    """Put back the learning rates the optimizer was built with after its state was loaded
    (the state brings the checkpoint's), warning of each one that differs."""
    changed = []
    for index, (group, lr) in enumerate(zip(optimizer.param_groups, wanted)):
        if group["lr"] != lr:
            changed.append(f"group {index} {group['lr']:g} -> {lr:g}")
            group["lr"] = lr
    if changed:
        warnings.warn(f"resuming {source} with other learning rates, applied from the next step: "
                      + "; ".join(changed), ResumeChangeWarning, stacklevel=4)
