"""Hook specifications: the whole contract between qembed and its plugins.

Registration hooks return a mapping ``name -> factory``; names are lowercase
snake_case and unique across all installed plugins. Lifecycle hooks are called by
the trainer; every one is optional for a plugin, and one that no plugin implements
costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qembed.plugins.markers import hookspec

Factories = Mapping[str, Callable[..., Any]]


# --- registration -------------------------------------------------------------


@hookspec
def qembed_register_schedules() -> Factories:
    """Register superposition schedules.

    Each factory is called as ``factory(**options)`` and returns a schedule: a pure
    callable ``schedule(step, total_steps) -> float`` giving the collapse probability,
    in [0, 1], at optimizer step ``step`` (``0 <= step < total_steps``). A schedule
    may declare ``start_value`` / ``end_value`` (its value at the first and last
    step), which :func:`qembed.testing.check_schedule` then verifies.
    """


@hookspec
def qembed_register_losses() -> Factories:
    """Register losses.

    Each factory is called as ``factory(**options)`` and returns an ``nn.Module``.
    The trainer calls it with the model output and the targets; a loss whose
    ``forward`` names ``uncertainty``, ``entanglement`` or ``superposition`` also
    receives those fields of the output.
    """


@hookspec
def qembed_register_optimizers() -> Factories:
    """Register optimizers.

    Each factory is called as ``factory(params, **options)`` and returns a
    ``torch.optim.Optimizer``. Quantum parameters are recognised by the role that
    ``qembed.nn.mark`` puts on them, so ``model.parameters()`` is enough.
    """


@hookspec
def qembed_register_clipping() -> Factories:
    """Register gradient clipping strategies.

    Each factory is called as ``factory(**options)`` and returns a strategy that is
    called after backward (after unscaling under AMP) with the optimizer's
    parameter groups, clips in place and returns the pre-clip norms as tensors
    (never synchronising with the device).
    """


@hookspec
def qembed_register_replay() -> Factories:
    """Register replay strategies for continual learning.

    Each factory is called as ``factory(**options)`` and returns a buffer with
    ``add(batch, outputs)``, ``sample(n)``, ``state_dict()`` and
    ``load_state_dict(state)``.
    """


@hookspec
def qembed_register_collapse() -> Factories:
    """Register collapse strategies.

    Each factory is called as ``factory(**options)`` and returns a strategy that,
    given sense amplitudes and context, returns sense weights (soft) or a one-hot
    choice (hard, with a straight-through gradient).
    """


# --- per trainer ----------------------------------------------------------------


@hookspec
def qembed_trainer_plugins(trainer: Any) -> Sequence[Any]:
    """Return plugin objects for ``trainer`` alone (an empty sequence for none).

    Called once as the trainer is built, when its ``config`` and ``log_dir`` are set and
    nothing else is; the objects are registered in that trainer's own registry,
    as its ``plugins=`` are. For plugins that keep state per trainer (a logger holding an
    open file): an object's lifecycle hooks then see this trainer only.
    """


# --- lifecycle ------------------------------------------------------------------


@hookspec
def qembed_on_train_start(trainer: Any) -> None:
    """Called once at the start of ``trainer.train(...)``, before the first batch."""


@hookspec
def qembed_on_log(trainer: Any, step: int, metrics: Mapping[str, float]) -> None:
    """Called every ``log_every_n_steps`` optimizer steps.

    ``step`` is the global optimizer step; ``metrics`` maps names such as
    ``loss``, ``quantum_loss``, ``uncertainty``, ``collapse_probability`` and
    ``lr`` to plain floats (the device has already been read once for all of them).
    """


@hookspec
def qembed_on_epoch_end(trainer: Any, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after every training epoch with that epoch's averaged metrics."""


@hookspec
def qembed_on_validation_end(trainer: Any, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after every validation pass with its metrics (``loss``, ``accuracy``, ...)."""


@hookspec
def qembed_on_checkpoint(trainer: Any, path: str) -> None:
    """Called after a checkpoint file has been completely written to ``path``."""


@hookspec
def qembed_on_train_end(trainer: Any, history: Mapping[str, list]) -> None:
    """Called once when ``trainer.train(...)`` ends, with the training history."""
