"""Built-in LR schedulers: linear warmup then cosine, linear or constant
(``warmup_cosine``, ``warmup_linear``, ``warmup_constant``), and the
``torch.optim.lr_scheduler`` classes by their own names (``StepLR``, ``OneCycleLR``, ...).

Every factory is called as ``factory(optimizer, *, total_steps, **options)``; the trainer
passes the run's optimizer steps as ``total_steps`` and steps the scheduler after every
optimizer step. A warmup schedule is a ``LambdaLR`` whose multiplier depends on the step
alone, so a scheduler restored from its ``state_dict`` continues exactly.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, Literal

import attrs
import torch
from torch.optim import lr_scheduler
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from qembed import hookimpl
from qembed.arguments import check_int, check_probability
from qembed.plugins.option_types import check_option_types, option_types

#: the ``torch.optim.lr_scheduler`` classes whose options are plain values and that step
#: without an argument (the trainer steps its scheduler after every optimizer step)
TORCH_SCHEDULERS = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
                    "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR")


@attrs.frozen(slots=False)  # LambdaLR saves and restores the multiplier's __dict__
class WarmupMultiplier:
    """The factor on each group's base lr at step ``step``: ``step / warmup_steps`` during
    the warmup, then from 1 down to ``min_lr_ratio`` at ``total_steps`` (``decay``:
    cosine or linear) or 1 throughout (constant). Its fields are plain values, which is
    what ``LambdaLR.state_dict`` saves of it."""

    warmup_steps: int
    total_steps: int
    decay: Literal["cosine", "linear", "constant"]
    min_lr_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / self.warmup_steps
        if self.decay == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        falling = 0.5 * (1.0 + math.cos(math.pi * progress)) if self.decay == "cosine" else 1.0 - progress
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * falling


def warmup_length(total_steps: int, warmup_steps: int | None, warmup_ratio: float | None) -> int:
    """The warmup's steps: ``warmup_steps``, or ``ceil(warmup_ratio * total_steps)``
    (neither: no warmup), checked to fit in the run."""
    check_int("total_steps", total_steps, minimum=1)
    if warmup_steps is not None and warmup_ratio is not None:
        raise ValueError(f"give warmup_steps or warmup_ratio, not both (got {warmup_steps!r} and {warmup_ratio!r})")
    if warmup_ratio is not None:
        return math.ceil(check_probability("warmup_ratio", warmup_ratio, open_low=False, open_high=False)
                         * total_steps)
    return 0 if warmup_steps is None else check_int("warmup_steps", warmup_steps, minimum=0, maximum=total_steps)


def _warmup(decay: Literal["cosine", "linear", "constant"], optimizer: torch.optim.Optimizer, total_steps: int,
            warmup_steps: int | None, warmup_ratio: float | None, min_lr_ratio: float) -> LambdaLR:
    ratio = check_probability("min_lr_ratio", min_lr_ratio, open_low=False, open_high=False)
    steps = warmup_length(total_steps, warmup_steps, warmup_ratio)
    return LambdaLR(optimizer, WarmupMultiplier(steps, total_steps, decay, ratio))


def warmup_cosine(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int | None = None,
                  warmup_ratio: float | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """Linear warmup from 0 to each group's lr, then a cosine decay to ``min_lr_ratio``
    times it at ``total_steps``."""
    return _warmup("cosine", optimizer, total_steps, warmup_steps, warmup_ratio, min_lr_ratio)


def warmup_linear(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int | None = None,
                  warmup_ratio: float | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """Linear warmup from 0 to each group's lr, then a linear decay to ``min_lr_ratio``
    times it at ``total_steps``."""
    return _warmup("linear", optimizer, total_steps, warmup_steps, warmup_ratio, min_lr_ratio)


def warmup_constant(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int | None = None,
                    warmup_ratio: float | None = None) -> LambdaLR:
    """Linear warmup from 0 to each group's lr, which then stays."""
    return _warmup("constant", optimizer, total_steps, warmup_steps, warmup_ratio, 1.0)


#: options for the torch classes whose required arguments have no default: what
#: ``qembed plugins check`` builds them with (a factory's ``example_options``)
EXAMPLE_OPTIONS: dict[str, dict[str, Any]] = {
    "StepLR": {"step_size": 2}, "MultiStepLR": {"milestones": [2, 4]}, "ExponentialLR": {"gamma": 0.9},
    "CosineAnnealingLR": {"T_max": 10}, "CosineAnnealingWarmRestarts": {"T_0": 5},
    "CyclicLR": {"base_lr": 1e-4, "max_lr": 1e-2}, "OneCycleLR": {"max_lr": 1e-2},
}


def torch_scheduler(cls: type[LRScheduler]) -> Callable[..., LRScheduler]:
    """A factory building ``cls`` with its options, each checked against the type torch
    declares for it (torch takes a wrong type and fails at the first step). ``total_steps``
    reaches ``OneCycleLR`` unless its options give ``epochs`` (with ``steps_per_epoch``);
    the other classes step by their own options and leave it unused."""
    hints = option_types(cls)
    own = inspect.signature(cls).parameters
    takes_total = "total_steps" in own

    def build(optimizer: torch.optim.Optimizer, *, total_steps: int, **options: Any) -> LRScheduler:
        check_option_types(cls.__name__, hints, {"total_steps": total_steps, **options})
        if takes_total and options.get("epochs") is None:
            options["total_steps"] = total_steps
        return cls(optimizer, **options)

    build.__name__ = build.__qualname__ = cls.__name__
    build.__module__ = cls.__module__  # torch documents the options
    build.__doc__ = f"``torch.optim.lr_scheduler.{cls.__name__}`` with type-checked options."
    build.example_options = EXAMPLE_OPTIONS.get(cls.__name__, {})  # type: ignore[attr-defined]
    build.__annotations__ = dict(hints)  # what option_types() reads of the factory
    # the signature the registry checks option names against: torch's, and the run's total_steps
    build.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        *(p for name, p in own.items() if name != "total_steps"),
        inspect.Parameter("total_steps", inspect.Parameter.KEYWORD_ONLY, annotation=int),
    ])
    return build


@hookimpl
def qembed_register_lr_schedulers() -> dict[str, Callable[..., LRScheduler]]:
    return {
        "warmup_cosine": warmup_cosine,
        "warmup_linear": warmup_linear,
        "warmup_constant": warmup_constant,
        **{name: torch_scheduler(getattr(lr_scheduler, name)) for name in TORCH_SCHEDULERS},
    }
