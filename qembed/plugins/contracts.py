"""The contract of each component kind, and of a lifecycle observer, as typed protocols.

Each protocol names what qembed calls on a component of its kind (the trainer, the
layers, ``qembed.testing``); its docstring states the behaviour the kind's
``qembed.testing`` check verifies. The hook specifications return factories of these
types (each kind's row in :mod:`qembed.plugins.kinds` names its protocol), and :class:`~qembed.plugins.PluginRegistry` checks a component it builds for
the members of its kind's protocol (cheap and structural: the behaviour is what the
contract checks test). A plugin author annotates with them::

    from qembed.plugins.contracts import Schedule

    def make_warmup(steps: int = 100) -> Schedule: ...

The protocols are ``runtime_checkable``; :func:`missing_members` also says which
members an object lacks and requires methods to be callable.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor

    from qembed.training.loss_terms import LossTerms
    from qembed.training.trainer import QuantumTrainer


@runtime_checkable
class Schedule(Protocol):
    """A superposition schedule (kind ``schedules``).

    Returns the collapse probability, a Python ``float`` in [0, 1], at optimizer step
    ``step`` (``0 <= step < total_steps``). Pure: the same arguments give the same
    value, so a resumed run gets exactly the values it would have had. May declare
    ``start_value`` / ``end_value``, its values at the first and last step.
    """

    def __call__(self, step: int, total_steps: int) -> float: ...


@runtime_checkable
class Loss(Protocol):
    """A loss (kind ``losses``), usually an ``nn.Module`` (moved to the trainer's device).

    Called by :class:`qembed.training.loss_call.LossCall` as it declares with
    ``@qembed.training.loss_inputs(...)``: ``loss(outputs, labels, **fields)`` (the model
    output and the named output fields) or ``loss(logits, labels)`` (token-level logits
    flattened to ``[N, C]``); a loss that declares nothing gets the documented signature
    fallback. Returns a finite scalar tensor that does not depend on the order of the
    batch. See :class:`ReportsTerms` and :class:`DrawsSamples` for the optional members.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor: ...


@runtime_checkable
class ReportsTerms(Protocol):
    """An optional part of a :class:`Loss`: it reports its parts (logged as
    ``quantum_loss``); ``total == task + quantum`` and ``forward`` returns ``total``."""

    def loss_terms(self, outputs: Any, labels: Tensor) -> LossTerms: ...


@runtime_checkable
class DrawsSamples(Protocol):
    """An optional part of a :class:`Loss`: it needs ``mc_samples`` (an integer >= 2)
    collapse samples per batch, which the trainer puts in ``outputs.sample_logits``
    (``[S, *logits.shape]``) before calling it."""

    mc_samples: int


@runtime_checkable
class Optimizer(Protocol):
    """What qembed uses of an optimizer (kind ``optimizers``; built as
    ``factory(params, **options)``).

    The factory must build a ``torch.optim.Optimizer`` (the trainer refuses anything
    else: ``GradScaler`` and LR schedulers need one) whose ``param_groups`` hold each
    parameter once, each group with an ``"lr"``; a step leaves parameters finite and
    those without a gradient untouched, moves nothing when every ``lr`` is 0, and an
    optimizer restored from ``state_dict()`` takes the same step. Quantum parameters
    are recognised by their role (``qembed.nn.role_of``). See
    :class:`ObservesUncertainty` for the optional member.
    """

    param_groups: list[dict[str, Any]]

    def step(self) -> object: ...

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


@runtime_checkable
class ObservesUncertainty(Protocol):
    """An optional part of an :class:`Optimizer`: the trainer reports each training
    batch's mean uncertainty (a 0-dim tensor on the device, never read on the host)
    before the optimizer step."""

    def observe_uncertainty(self, uncertainty: Tensor) -> None: ...


@runtime_checkable
class ClippingStrategy(Protocol):
    """A gradient clipping strategy (kind ``clipping``).

    Called after backward (after unscaling under AMP) with the optimizer's parameter
    groups (or plain parameters); clips the gradients in place (never increasing a
    norm, a projection: clipping twice changes nothing more) and returns the pre-clip
    norms as finite 0-dim tensors (``grad_norm``, ``grad_norm/quantum``,
    ``grad_norm/classical``; logged by name), never reading a value on the host.
    """

    def __call__(self, param_groups: Iterable[Any]) -> Mapping[str, Tensor]: ...


@runtime_checkable
class ReplayStrategy(Protocol):
    """A replay strategy for continual learning (kind ``replay``).

    The trainer asks ``replay_size(batch_size)`` how many stored examples to mix into a
    fresh batch (``0 <= replay_size <= len``), ``sample(n)`` for them (``min(n, len)``
    stored examples collated, ``None`` when empty or ``n == 0``), then offers the fresh
    CPU batch with ``add(batch, outputs)`` (``outputs``: the model output, may be
    ``None``). ``len`` never exceeds ``capacity``. ``state_dict()`` holds only tensors
    and plain types (loadable with ``torch.load(weights_only=True)``); after
    ``load_state_dict`` later ``add`` and ``sample`` behave exactly as they would have.
    """

    capacity: int

    def __len__(self) -> int: ...

    def add(self, batch: Mapping[str, Tensor], outputs: Any = None) -> None: ...

    def sample(self, n: int) -> dict[str, Tensor] | None: ...

    def replay_size(self, batch_size: int) -> int: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class Collapse(Protocol):
    """A collapse strategy (kind ``collapse``), as ``QuantumEmbeddings`` calls it.

    The factory must build a :class:`qembed.nn.CollapseStrategy` (an ``nn.Module``: the
    layer owns it, so it moves with the model and follows ``train()`` / ``eval()``).
    From sense probabilities ``[B, T, K]``, the context agreement ``[B, T, K]`` (only
    when ``uses_context``, else ``None``) and a boolean mask ``[B, T]`` it returns
    finite sense weights ``[B, T, K]``, a distribution at every real token (one-hot with
    a straight-through gradient, or soft), leaving its inputs unchanged;
    deterministic when not ``training``.
    """

    uses_context: bool
    training: bool

    def __call__(self, probabilities: Tensor, agreement: Tensor | None, attention_mask: Tensor) -> Tensor: ...


@runtime_checkable
class LRSchedule(Protocol):
    """An LR scheduler (kind ``lr_schedulers``; built as
    ``factory(optimizer, *, total_steps, **options)``).

    The factory must build a ``torch.optim.lr_scheduler.LRScheduler`` over ``optimizer``
    (the trainer refuses anything else), stepped once after every optimizer step of a run
    of ``total_steps`` steps; every learning rate it sets stays a finite number >= 0, and
    a scheduler restored from ``state_dict()`` (over a restored optimizer) sets the same
    rates from there on.
    """

    optimizer: Any

    def step(self) -> None: ...

    def get_last_lr(self) -> list[float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


#: What a hyperparameter value is once flattened for the loggers.
HyperparameterValue = bool | int | float | str


@runtime_checkable
class Logger(Protocol):
    """A logger (kind ``loggers``; built as ``factory(log_dir, **options)``, ``log_dir``
    the trainer's run folder or ``None``), modelled on Composer's ``LoggerDestination``.

    The building writes nothing; ``start(step)`` opens the store when a run starts
    (``step``: the global step it starts from, 0 or a resumed run's, whose points past it
    the logger may drop). Then ``log_hyperparameters(params)`` once (flat ``name ->
    bool | int | float | str``), ``log_metrics(metrics, step, section)`` any number of
    times (``section`` ``"train"`` or ``"val"`` at the global step, ``"epoch"`` at the
    epoch number; plain-float metrics, logged under ``<section>/<name>``), and
    ``finish(summary)`` once at the end (the final epoch's metrics; flush and close).
    Only the main process calls them. A logger leaves the mappings it is given
    unchanged and may be started again after ``finish`` (``train()`` called again).
    See :class:`LogsDistributions` for the optional member.
    """

    def start(self, step: int) -> None: ...

    def log_hyperparameters(self, params: Mapping[str, HyperparameterValue]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int, section: str) -> None: ...

    def finish(self, summary: Mapping[str, float]) -> None: ...


@runtime_checkable
class LogsDistributions(Protocol):
    """An optional part of a :class:`Logger`: once per epoch, the distributions of the
    epoch's last training batch (``sense_probabilities``, ``pair_entanglement``: 1-d CPU
    float tensors) at the epoch number."""

    def log_distributions(self, values: Mapping[str, Tensor], step: int, section: str) -> None: ...


class LifecycleObserver(Protocol):
    """The lifecycle hooks, typed as the hook specifications are. A plugin implements
    any of them (or none); the trainer calls them in the order of
    ``docs/plugin_hooks.md`` with plain-float metrics."""

    def qembed_on_train_start(self, trainer: QuantumTrainer) -> None: ...

    def qembed_on_log(self, trainer: QuantumTrainer, step: int, metrics: Mapping[str, float]) -> None: ...

    def qembed_on_epoch_end(self, trainer: QuantumTrainer, epoch: int, metrics: Mapping[str, float]) -> None: ...

    def qembed_on_validation_end(self, trainer: QuantumTrainer, epoch: int,
                                 metrics: Mapping[str, float]) -> None: ...

    def qembed_on_checkpoint(self, trainer: QuantumTrainer, path: str) -> None: ...

    def qembed_on_train_end(self, trainer: QuantumTrainer, history: Mapping[str, list[float]]) -> None: ...


_PROTOCOL_MACHINERY = frozenset({"__init__", "__subclasshook__"})


def members(protocol: type) -> list[str]:
    """The attributes and methods ``protocol`` (and the protocols it extends) names."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is Protocol or not getattr(base, "_is_protocol", False):
            continue
        names.update(vars(base).get("__annotations__", {}))
        names.update(name for name, value in vars(base).items()
                     if inspect.isfunction(value) and name not in _PROTOCOL_MACHINERY)
    return sorted(names)


def missing_members(component: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``component`` lacks (a method must be callable)."""
    methods = {name for base in protocol.__mro__ for name, value in vars(base).items() if inspect.isfunction(value)}
    return [name for name in members(protocol)
            if not hasattr(component, name) or (name in methods and not callable(getattr(component, name)))]
