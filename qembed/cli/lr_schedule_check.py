"""Steps a run config's ``[lr_scheduler]`` through the whole run before training.

torch's LR schedulers take options they cannot work with (``StepLR(step_size=0)``,
``OneCycleLR(total_steps=...)`` shorter than the run, a ``gamma`` that drives the rate to
infinity) and fail, or train on a NaN rate, many steps in. A rehearsal on a stand-in
optimizer (one empty parameter per group, the real groups' hyperparameters) finds that
before anything is written (about 20 us per step: 0.2 s for 10,000 steps), so ``--dry-run``
refuses what the run would fail on. A resumed run is rehearsed from the checkpoint's
scheduler state (which the run continues, whatever the config now says) to its end.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from qembed.plugins import PluginRegistry, default_registry


def rehearse_lr_scheduler(spec: dict[str, Any], optimizer: torch.optim.Optimizer, steps: int, *,
                          resumed: dict[str, Any] | None = None, registry: PluginRegistry | None = None) -> None:
    """Build ``spec`` (``{"name": registered LR scheduler, **options}``) from ``registry``
    (the default one when ``None``) over a stand-in of ``optimizer``, as the trainer builds
    it for a run of ``steps`` optimizer steps, and step it to the end, from the start or
    from the ``resumed`` scheduler state; raise ``ValueError`` naming the step if a step
    raises or gives a learning rate that is not a finite number >= 0."""
    name = spec["name"]
    stand_in = torch.optim.SGD([{"params": [torch.zeros(0, requires_grad=True)]} for _ in optimizer.param_groups],
                               lr=0.0)
    for group, real in zip(stand_in.param_groups, optimizer.param_groups, strict=True):
        group.update({key: value for key, value in real.items() if key not in ("params", "initial_lr")})
        group["lr"] = real.get("initial_lr", real["lr"])  # the rate before the real scheduler's first step
    step = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "the epoch parameter is deprecated": not the user's concern
            scheduler = (registry or default_registry()).create(
                "lr_schedulers", {"total_steps": steps, **spec}, stand_in)
            if resumed is not None:
                scheduler.load_state_dict(resumed)
                step = scheduler.last_epoch  # the trainer steps it once per optimizer step
                for group, rate in zip(stand_in.param_groups, scheduler.get_last_lr(), strict=True):
                    group["lr"] = rate
            _check_rates(stand_in, name, step)
            for step in range(step + 1, steps + 1):
                stand_in.step()
                scheduler.step()
                _check_rates(stand_in, name, step)
    except ValueError as err:
        if str(err).startswith(name):
            raise
        raise ValueError(f"{name} fails at step {step} of the run's {steps}: {err}") from err
    except Exception as err:
        raise ValueError(f"{name} fails at step {step} of the run's {steps}: {type(err).__name__}: {err}") from err


def _check_rates(optimizer: torch.optim.Optimizer, name: str, step: int) -> None:
    for group in optimizer.param_groups:
        rate = group["lr"]
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0):
            raise ValueError(f"{name} gives a learning rate of {rate!r} at step {step}; it must stay a finite "
                             "number >= 0 for the whole run")
