"""Checks an optimizer's hyperparameters before the first step.

torch's optimizers accept ``lr=1e300`` or ``eps=nan`` and fail, or train on NaN, at the
first step, after a run folder was written. Every number in a parameter group must be
finite and fit the dtype of the group's parameters.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

from qembed.training.config import ConfigError


def check_optimizer_values(optimizer: torch.optim.Optimizer) -> None:
    """Raise :class:`ConfigError` naming the group, key and value of the first number in
    ``optimizer.param_groups`` that is not finite or does not fit its parameters' dtype."""
    for index, group in enumerate(optimizer.param_groups):
        dtypes = {p.dtype for p in group["params"] if p.is_floating_point()}
        largest = min((torch.finfo(dtype).max for dtype in dtypes), default=math.inf)
        for key, value in group.items():
            numbers = value if isinstance(value, tuple) else (value,)
            for number in numbers:
                if isinstance(number, bool) or not isinstance(number, Real):
                    continue
                if not math.isfinite(number) or abs(number) > largest:  # type: ignore[operator]  # typeshed's Real has no order
                    where = f"param_groups[{index}][{key!r}]"
                    raise ConfigError(f"optimizer: {where} = {value!r} must be a finite number that fits the "
                                      f"parameters' dtype (|value| <= {largest:.4g})")
