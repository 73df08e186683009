"""Registers the ``cosine_ramp`` superposition schedule with qembed."""

from __future__ import annotations

import math

from qembed import hookimpl


class CosineRampSchedule:
    """Collapse probability rising from 0 to 1 along half a cosine wave.

    Slow at both ends and fastest mid-run; ``power`` > 1 delays the rise.
    """

    start_value = 0.0
    end_value = 1.0

    def __init__(self, power: float = 1.0) -> None:
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power!r}")
        self.power = power

    def __call__(self, step: int, total_steps: int) -> float:
        if total_steps < 1 or not 0 <= step < total_steps:
            raise ValueError(f"need 0 <= step < total_steps, got step={step}, total_steps={total_steps}")
        if total_steps == 1:
            return 1.0
        progress = (step / (total_steps - 1)) ** self.power
        return min(1.0, max(0.0, 0.5 * (1.0 - math.cos(math.pi * progress))))


@hookimpl
def qembed_register_schedules():
    return {"cosine_ramp": CosineRampSchedule}
