"""Contract check for LR schedulers."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LRScheduler

from qembed.testing.phases import PHASES


def stand_in_optimizer(rates: list[float]) -> torch.optim.SGD:
    """An SGD optimizer with one empty parameter per group, group ``i`` at ``rates[i]``:
    what a scheduler reads and sets, at no cost per step."""
    return torch.optim.SGD([{"params": [torch.zeros(0, requires_grad=True)], "lr": rate} for rate in rates])


def learning_rates(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each group's ``lr``."""
    return [group["lr"] for group in optimizer.param_groups]


def check_lr_scheduler(factory: Callable[..., Any], /, *, max_examples: int = 50, max_total_steps: int = 300,
                       **options: Any) -> None:
    """Check that ``factory(optimizer, total_steps=..., **options)`` builds an LR scheduler
    honouring the contract (:class:`qembed.plugins.contracts.LRSchedule`).

    For generated runs of 1 to ``max_total_steps`` steps over one to three parameter
    groups (base rates in [0, 1]) the result must be a ``torch.optim.lr_scheduler.LRScheduler``
    over that optimizer; stepped after each of the run's optimizer steps, every rate must
    stay a finite number >= 0; and a fresh scheduler restored mid-run from a
    ``torch.save`` + ``torch.load(weights_only=True)`` round trip of ``state_dict()`` (over
    the restored optimizer) must set exactly the same rates to the end. Raises
    ``AssertionError`` with the failing input.
    """
    label = f"{getattr(factory, '__name__', factory)!s}(optimizer, **{options!r})"

    @settings(max_examples=max_examples, deadline=None, database=None, phases=PHASES)
    @given(total_steps=st.integers(1, max_total_steps),
           rates=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3), data=st.data())
    def holds_the_contract(total_steps: int, rates: list[float], data: st.DataObject) -> None:
        where = f"{label} with total_steps={total_steps}, base rates {rates}"
        optimizer = stand_in_optimizer(rates)
        scheduler = factory(optimizer, total_steps=total_steps, **options)
        assert isinstance(scheduler, LRScheduler), f"{where} built a {type(scheduler).__name__}, not an LRScheduler"
        assert scheduler.optimizer is optimizer, f"{where} built a scheduler over another optimizer"
        resume_at = data.draw(st.integers(0, total_steps), label="resume_at")
        saved: tuple[dict[str, Any], bytes] | None = None
        expected: list[list[float]] = []
        for step in range(total_steps + 1):
            if step == resume_at:
                buffer = io.BytesIO()
                torch.save(scheduler.state_dict(), buffer)
                saved = (optimizer.state_dict(), buffer.getvalue())
            if step >= resume_at:
                expected.append(learning_rates(optimizer))
            for rate in learning_rates(optimizer):
                assert isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0, (
                    f"{where} sets a learning rate of {rate!r} at step {step}")
            if step < total_steps:
                optimizer.step()
                scheduler.step()
        assert saved is not None
        twin_optimizer = stand_in_optimizer(rates)
        twin = factory(twin_optimizer, total_steps=total_steps, **options)
        twin_optimizer.load_state_dict(saved[0])
        twin.load_state_dict(torch.load(io.BytesIO(saved[1]), weights_only=True))
        resumed = [learning_rates(twin_optimizer)]
        for _ in range(resume_at, total_steps):
            twin_optimizer.step()
            twin.step()
            resumed.append(learning_rates(twin_optimizer))
        assert resumed == expected, f"{where}: restored at step {resume_at}, it sets {resumed}, not {expected}"

    holds_the_contract()
