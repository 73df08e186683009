"""Contract check for superposition schedules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from qembed.plugins.contracts import Schedule
from qembed.testing.members import assert_members

MAX_TOTAL_STEPS = 1_000_000


def check_schedule(factory: Callable[..., Any], /, *, max_examples: int = 200, **options: Any) -> None:
    """Check that ``factory(**options)`` builds a schedule honouring the contract
    (:class:`qembed.plugins.contracts.Schedule`).

    For any ``total_steps >= 1`` and ``0 <= step < total_steps`` the value must be a
    finite Python ``float`` in [0, 1]; the schedule must be pure (the same inputs give
    the same output, whatever was asked in between, and a second instance built
    with the same options agrees); where it declares ``start_value`` / ``end_value``
    those must be its values at the first and last step of every run of two or
    more steps. Raises ``AssertionError`` with the failing inputs.
    """
    schedule = factory(**options)
    twin = factory(**options)
    start = getattr(schedule, "start_value", None)
    end = getattr(schedule, "end_value", None)
    label = f"{getattr(factory, '__name__', factory)!s}(**{options!r})"
    assert_members(schedule, Schedule, label)

    @settings(max_examples=max_examples, deadline=None, database=None)
    @given(total_steps=st.integers(1, MAX_TOTAL_STEPS), data=st.data())
    def holds_the_contract(total_steps: int, data: st.DataObject) -> None:
        step = data.draw(st.integers(0, total_steps - 1), label="step")
        value = schedule(step, total_steps)
        where = f"{label} at step={step}, total_steps={total_steps}"
        assert isinstance(value, float), f"{where} returned {type(value).__name__}, not a float"
        assert math.isfinite(value), f"{where} returned {value}, not finite"
        assert 0.0 <= value <= 1.0, f"{where} returned {value}, outside [0, 1]"

        other = data.draw(st.integers(0, total_steps - 1), label="other_step")
        schedule(other, total_steps)
        assert schedule(step, total_steps) == value, f"{where} is not pure: a repeat call differs"
        assert twin(step, total_steps) == value, f"{where}: a second instance gives another value"

        if total_steps >= 2:
            first, last = schedule(0, total_steps), schedule(total_steps - 1, total_steps)
            if start is not None:
                assert math.isclose(first, start, abs_tol=1e-9), (
                    f"{label} declares start_value={start} but gives {first} at step 0 "
                    f"of {total_steps}"
                )
            if end is not None:
                assert math.isclose(last, end, abs_tol=1e-9), (
                    f"{label} declares end_value={end} but gives {last} at the last step "
                    f"of {total_steps}"
                )

    holds_the_contract()
