"""``StepPlan``: what a run does by optimizer step rather than by epoch.

``max_steps`` ends the run after that many optimizer steps (mid-epoch allowed);
``val_check_interval`` validates every that many optimizer steps (an int) or every that
fraction of an epoch (a float in (0, 1], as Lightning); ``checkpoint_every_n_steps``
writes ``last.pth`` every that many steps, with the epoch's position so it resumes
exactly. Validation and ``last.pth`` also come at every epoch end, as without a plan.
"""

from __future__ import annotations

import math

import attrs

from qembed.arguments import check_int, check_number


@attrs.frozen
class StepPlan:
    """The step-based settings of one ``train`` call, checked and resolved to steps."""

    max_steps: int | None = None
    val_every: int | None = None  # optimizer steps between validations
    val_per_epoch: bool = False  # val_every counts the epoch's steps (a fraction of an epoch), not the run's
    checkpoint_every: int | None = None  # optimizer steps between step checkpoints

    @classmethod
    def checked(cls, max_steps: int | None, val_check_interval: float | None, checkpoint_every_n_steps: int | None,
                steps_per_epoch: int, *, validates: bool) -> StepPlan:
        """The plan, or an error naming the argument, its value and what was expected."""
        if max_steps is not None:
            check_int("max_steps", max_steps, minimum=1)
        if checkpoint_every_n_steps is not None:
            check_int("checkpoint_every_n_steps", checkpoint_every_n_steps, minimum=1)
        val_every = None
        if val_check_interval is not None:
            if not validates:
                raise ValueError(f"val_check_interval={val_check_interval!r} needs a val_dataloader to validate with")
            if isinstance(val_check_interval, float):
                check_number("val_check_interval", val_check_interval, minimum=0.0, exclusive=True)
                if val_check_interval > 1.0:
                    raise ValueError(f"val_check_interval={val_check_interval!r}: a float is a fraction of an "
                                     "epoch in (0, 1]; give an int for a number of optimizer steps")
                return cls(max_steps, max(1, math.floor(steps_per_epoch * val_check_interval)), True,
                           checkpoint_every_n_steps)
            val_every = check_int("val_check_interval", val_check_interval, minimum=1)
        return cls(max_steps, val_every, False, checkpoint_every_n_steps)

    def validates_at(self, run_step: int, epoch_step: int) -> bool:
        """Whether to validate after run step ``run_step``, step ``epoch_step`` of its epoch."""
        step = epoch_step if self.val_per_epoch else run_step
        return self.val_every is not None and step % self.val_every == 0

    def checkpoints_at(self, run_step: int) -> bool:
        """Whether to write a step checkpoint after run step ``run_step``."""
        return self.checkpoint_every is not None and run_step % self.checkpoint_every == 0
