"""Built-in superposition schedules: ``linear``, ``cyclic`` and ``constant``.

A schedule is a pure function ``schedule(step, total_steps) -> float`` giving the
collapse probability in [0, 1] at optimizer step ``step`` of ``total_steps``. Pure
means a resumed run gets exactly the values it would have had.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from qembed import hookimpl
from qembed.arguments import check_int, check_probability, validator


def check_position(step: int, total_steps: int) -> None:
    """Raise unless ``0 <= step < total_steps`` and ``total_steps >= 1``."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= step < total_steps:
        raise ValueError(f"step must be in [0, total_steps={total_steps}), got {step}")


@attrs.frozen
class LinearSchedule:
    """Collapse probability rising linearly from 0 at the first step to 1 at the last.

    A single-step run (``total_steps == 1``) gets 1.0: its one step is the last.
    """

    start_value = 0.0
    end_value = 1.0

    def __call__(self, step: int, total_steps: int) -> float:
        check_position(step, total_steps)
        if total_steps == 1:
            return 1.0
        return step / (total_steps - 1)


@attrs.frozen
class CyclicSchedule:
    """Collapse probability oscillating between 0 and 1 in a triangle wave.

    Each cycle of ``period`` steps rises from exactly 0 at its first step to exactly
    1 at step ``period // 2`` and falls back towards 0. Give the period directly
    (``cycle_steps``) or as a number of cycles over the run (``num_cycles``, default
    4: the period is ``max(2, total_steps // num_cycles)``).
    """

    cycle_steps: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(validator(check_int, minimum=2)))
    num_cycles: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(validator(check_int, minimum=1)))

    start_value = 0.0

    def __attrs_post_init__(self) -> None:
        if self.cycle_steps is not None and self.num_cycles is not None:
            raise ValueError(
                f"give either cycle_steps ({self.cycle_steps}) or num_cycles "
                f"({self.num_cycles}), not both"
            )

    def period(self, total_steps: int) -> int:
        """Steps per cycle in a run of ``total_steps``."""
        if self.cycle_steps is not None:
            return self.cycle_steps
        return max(2, total_steps // (self.num_cycles or 4))

    def __call__(self, step: int, total_steps: int) -> float:
        check_position(step, total_steps)
        period = self.period(total_steps)
        position = step % period
        peak = period // 2
        if position <= peak:
            return position / peak
        return (period - position) / (period - peak)


@attrs.frozen
class ConstantSchedule:
    """The same collapse probability, ``value`` (default 0.5), at every step."""

    value: float = attrs.field(default=0.5, validator=validator(check_probability, open_low=False, open_high=False))

    @property
    def start_value(self) -> float:
        return float(self.value)

    @property
    def end_value(self) -> float:
        return float(self.value)

    def __call__(self, step: int, total_steps: int) -> float:
        check_position(step, total_steps)
        return float(self.value)


@hookimpl
def qembed_register_schedules() -> dict[str, Callable[..., object]]:
    return {"linear": LinearSchedule, "cyclic": CyclicSchedule, "constant": ConstantSchedule}
