"""Checks an optimizer's hyperparameters before the first step.

torch's optimizers accept ``lr=1e300`` or ``eps=nan`` and fail, or train on NaN, at the
first step, after a run folder was written. Every number in a parameter group must be
finite and fit the dtype of the group's parameters.
"""

from __future__ import annotations

import math
import torch

from qembed.training.config import ConfigError


def check_optimizer_values(optimizer: torch.optim.Optimizer) -> None:
    """Raise :class:`ConfigError` naming the group, key and value of the first float in
    ``optimizer.param_groups`` (alone or in a tuple or list, as ``betas``) that is not
    finite or does not fit its parameters' dtype (integers, such as a step count, are
    the optimizer's own business)."""
    for index, group in enumerate(optimizer.param_groups):
        dtypes = {p.dtype for p in group["params"] if p.is_floating_point()}
        largest = min((torch.finfo(dtype).max for dtype in dtypes), default=math.inf)
        for key, value in group.items():
            numbers = value if isinstance(value, (tuple, list)) and key != "params" else (value,)
            for number in numbers:
                if not isinstance(number, float):
                    continue
                if not math.isfinite(number) or abs(number) > largest:
                    raise ConfigError(f"the optimizer's param_groups[{index}][{key!r}] = {value!r} must be finite "
                                      f"and fit the parameters' dtype (|value| <= {largest:.4g})")
