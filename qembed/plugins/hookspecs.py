"""Hook specifications: the whole contract between qembed and its plugins.

Registration hooks return a mapping ``name -> factory``; names are lowercase
snake_case and unique across all installed plugins. Each factory builds a component
satisfying its kind's protocol in :mod:`qembed.plugins.contracts`. Lifecycle hooks
are called by the trainer (typed as :class:`~qembed.plugins.contracts.LifecycleObserver`);
every one is optional for a plugin, and one that no plugin implements costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qembed.plugins.contracts import ClippingStrategy, Collapse, Logger, Loss, LRSchedule, Optimizer, ReplayStrategy, Schedule
from qembed.plugins.markers import hookspec

if TYPE_CHECKING:
    from qembed.training.trainer import QuantumTrainer


# --- registration -------------------------------------------------------------


@hookspec
def qembed_register_schedules() -> Mapping[str, Callable[..., Schedule]]:
    """Register superposition schedules.

    Each factory is called as ``factory(**options)`` and returns a
    :class:`~qembed.plugins.contracts.Schedule`: a pure callable
    ``schedule(step, total_steps) -> float`` giving the collapse probability, in [0, 1],
    at optimizer step ``step`` (``0 <= step < total_steps``). A schedule may declare
    ``start_value`` / ``end_value`` (its value at the first and last step), which
    :func:`qembed.testing.check_schedule` then verifies.
    """


@hookspec
def qembed_register_losses() -> Mapping[str, Callable[..., Loss]]:
    """Register losses.

    Each factory is called as ``factory(**options)`` and returns a
    :class:`~qembed.plugins.contracts.Loss`, usually an ``nn.Module``. The trainer
    calls it with the model output and the targets; a loss whose ``forward`` names
    ``uncertainty``, ``entanglement`` or ``superposition`` also receives those fields
    of the output.
    """


@hookspec
def qembed_register_optimizers() -> Mapping[str, Callable[..., Optimizer]]:
    """Register optimizers.

    Each factory is called as ``factory(params, **options)`` and returns a
    ``torch.optim.Optimizer`` (see :class:`~qembed.plugins.contracts.Optimizer`).
    Quantum parameters are recognised by the role that ``qembed.nn.mark`` puts on
    them, so ``model.parameters()`` is enough.
    """


@hookspec
def qembed_register_clipping() -> Mapping[str, Callable[..., ClippingStrategy]]:
    """Register gradient clipping strategies.

    Each factory is called as ``factory(**options)`` and returns a
    :class:`~qembed.plugins.contracts.ClippingStrategy`, called after backward (after
    unscaling under AMP) with the optimizer's parameter groups, that clips in place and
    returns the pre-clip norms as tensors (never synchronising with the device).
    """


@hookspec
def qembed_register_replay() -> Mapping[str, Callable[..., ReplayStrategy]]:
    """Register replay strategies for continual learning.

    Each factory is called as ``factory(**options)`` and returns a
    :class:`~qembed.plugins.contracts.ReplayStrategy`: a buffer with ``len``,
    ``capacity``, ``add(batch, outputs)``, ``replay_size(batch_size)`` (how many stored
    examples the trainer mixes into a fresh batch), ``sample(n)``, ``state_dict()`` and
    ``load_state_dict(state)``.
    """


@hookspec
def qembed_register_collapse() -> Mapping[str, Callable[..., Collapse]]:
    """Register collapse strategies.

    Each factory is called as ``factory(**options)`` and returns a
    :class:`qembed.nn.CollapseStrategy` (see :class:`~qembed.plugins.contracts.Collapse`)
    that, given sense amplitudes and context, returns sense weights (soft) or a one-hot
    choice (hard, with a straight-through gradient).
    """


@hookspec
def qembed_register_lr_schedulers() -> Mapping[str, Callable[..., LRSchedule]]:
    """Register LR schedulers.

    Each factory is called as ``factory(optimizer, *, total_steps, **options)`` and
    returns a ``torch.optim.lr_scheduler.LRScheduler`` over ``optimizer`` (see
    :class:`~qembed.plugins.contracts.LRSchedule`); ``total_steps`` is the run's optimizer
    steps (a spec's own ``total_steps`` replaces it), and the trainer steps the scheduler
    after every optimizer step. Names may also be a torch class name (``StepLR``).
    """


@hookspec
def qembed_register_loggers() -> Mapping[str, Callable[..., Logger]]:
    """Register loggers (metric stores: TensorBoard, CSV, W&B, MLflow...).

    Each factory is called as ``factory(log_dir, **options)`` (``log_dir``: the trainer's
    run folder, a ``Path``, or ``None``) and returns a
    :class:`~qembed.plugins.contracts.Logger`; it writes nothing until ``start``. A
    trainer picks loggers by name with ``loggers=[...]``.
    """


# --- per trainer ----------------------------------------------------------------


@hookspec
def qembed_trainer_plugins(trainer: QuantumTrainer) -> Sequence[Any]:
    """Return plugin objects for ``trainer`` alone (an empty sequence for none).

    Called once as the trainer is built, when its ``config`` and ``log_dir`` are set and
    nothing else is; the objects are registered in that trainer's own registry,
    as its ``plugins=`` are. For plugins that keep state per trainer (a logger holding an
    open file): an object's lifecycle hooks then see this trainer only.
    """


# --- lifecycle ------------------------------------------------------------------


@hookspec
def qembed_on_train_start(trainer: QuantumTrainer) -> None:
    """Called once at the start of ``trainer.train(...)``, before the first batch."""


@hookspec
def qembed_on_log(trainer: QuantumTrainer, step: int, metrics: Mapping[str, float]) -> None:
    """Called every ``log_every_n_steps`` optimizer steps.

    ``step`` is the global optimizer step; ``metrics`` maps names such as
    ``loss``, ``quantum_loss``, ``uncertainty``, ``collapse_probability`` and
    ``lr`` to plain floats (the device has already been read once for all of them).
    """


@hookspec
def qembed_on_epoch_end(trainer: QuantumTrainer, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after every training epoch with that epoch's averaged metrics."""


@hookspec
def qembed_on_validation_end(trainer: QuantumTrainer, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after every validation pass with its metrics (``loss``, ``accuracy``, ...)."""


@hookspec
def qembed_on_checkpoint(trainer: QuantumTrainer, path: str) -> None:
    """Called after a checkpoint file has been completely written to ``path``."""


@hookspec
def qembed_on_train_end(trainer: QuantumTrainer, history: Mapping[str, list[float]]) -> None:
    """Called once when ``trainer.train(...)`` ends, with the training history."""
