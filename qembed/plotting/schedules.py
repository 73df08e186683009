"""Superposition schedules drawn over a run: one panel per schedule, the collapse
probability at every optimizer step, all panels on the same axes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from matplotlib.figure import Figure

from qembed.plotting.figures import marker_for, panel_grid

Schedule = Callable[[int, int], float]


def plot_schedules(schedules: Sequence[tuple[str, Schedule]], steps: int) -> Figure:
    """A figure with one panel per ``(label, schedule)``: ``schedule(step, steps)``
    for every step of a ``steps``-step run. Raises ``ValueError`` for no schedules
    or ``steps < 1``."""
    if not schedules:
        raise ValueError("no schedule to plot")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    figure, axes = panel_grid(len(schedules), panel_size=(4.2, 3.0))
    x = range(steps)
    for index, (ax, (label, schedule)) in enumerate(zip(axes, schedules)):
        values = [schedule(step, steps) for step in x]
        ax.plot(x, values, marker=marker_for(steps), markersize=3, color=f"C{index}")
        ax.set_title(label)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("collapse probability")
        ax.set_ylim(min(-0.03, *values), max(1.03, *values))  # [0, 1], or wider to show a value outside
        ax.set_xlim(-0.02 * steps, steps - 1 + 0.02 * steps)
        ax.grid(alpha=0.3)
    figure.suptitle(f"Superposition schedules over a run of {steps} step{'s' if steps != 1 else ''}",
                    fontweight="bold")
    return figure
