"""Property tests of the built-in schedules, and their option validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qembed import plugins
from qembed.plugins import ComponentOptionError
from qembed.testing import check_schedule

totals = st.integers(min_value=1, max_value=100_000)


@st.composite
def run_position(draw: st.DrawFn, min_total: int = 1) -> tuple[int, int]:
    total = draw(st.integers(min_value=min_total, max_value=100_000))
    return draw(st.integers(0, total - 1)), total


schedule_specs = st.one_of(
    st.just({"name": "linear"}),
    st.builds(lambda n: {"name": "cyclic", "cycle_steps": n}, st.integers(2, 5_000)),
    st.builds(lambda n: {"name": "cyclic", "num_cycles": n}, st.integers(1, 100)),
    st.builds(lambda v: {"name": "constant", "value": v}, st.floats(0.0, 1.0)),
)


@given(spec=schedule_specs, position=run_position())
def test_every_schedule_stays_in_unit_interval_and_is_pure(spec, position):
    step, total = position
    schedule = plugins.create("schedules", spec)
    value = schedule(step, total)
    assert isinstance(value, float)
    assert 0.0 <= value <= 1.0
    assert schedule(step, total) == value
    assert plugins.create("schedules", spec)(step, total) == value


@given(total=st.integers(2, 100_000))
def test_linear_runs_from_zero_at_first_step_to_one_at_last(total):
    linear = plugins.create("schedules", "linear")
    assert linear(0, total) == 0.0
    assert linear(total - 1, total) == 1.0


@given(position=run_position(min_total=2))
def test_linear_is_non_decreasing(position):
    step, total = position
    linear = plugins.create("schedules", "linear")
    if step + 1 < total:
        assert linear(step, total) <= linear(step + 1, total)


@given(period=st.integers(2, 500), cycles=st.integers(1, 6), extra=st.integers(0, 500))
def test_cyclic_is_periodic_and_reaches_both_ends_in_every_full_cycle(period, cycles, extra):
    total = period * cycles + extra
    cyclic = plugins.create("schedules", "cyclic", cycle_steps=period)
    values = [cyclic(step, total) for step in range(total)]
    assert all(values[s] == values[s + period] for s in range(total - period))
    for start in range(0, total - period + 1, period):
        cycle = values[start : start + period]
        assert min(cycle) <= 1e-6
        assert max(cycle) >= 1 - 1e-6


@given(num_cycles=st.integers(1, 50), position=run_position())
def test_cyclic_num_cycles_sets_the_period_over_the_run(num_cycles, position):
    step, total = position
    cyclic = plugins.create("schedules", "cyclic", num_cycles=num_cycles)
    period = cyclic.period(total)
    assert period == max(2, total // num_cycles)
    if step + period < total:
        assert cyclic(step, total) == cyclic(step + period, total)


@given(value=st.floats(0.0, 1.0), position=run_position())
def test_constant_equals_its_value_everywhere(value, position):
    step, total = position
    assert plugins.create("schedules", "constant", value=value)(step, total) == value


@pytest.mark.parametrize("name", sorted(plugins.available("schedules")))
def test_registered_schedules_pass_the_published_contract_check(name):
    check_schedule(plugins.available("schedules")[name].factory)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"name": "constant", "value": 1.5}, "value"),
        ({"name": "constant", "value": -0.1}, "value"),
        ({"name": "constant", "value": "high"}, "value"),
        ({"name": "cyclic", "cycle_steps": 1}, "cycle_steps"),
        ({"name": "cyclic", "cycle_steps": 2.5}, "cycle_steps"),
        ({"name": "cyclic", "num_cycles": 0}, "num_cycles"),
        ({"name": "cyclic", "cycle_steps": 10, "num_cycles": 2}, "num_cycles"),
    ],
)
def test_bad_schedule_options_name_the_option(spec, named):
    with pytest.raises(ComponentOptionError, match=named):
        plugins.create("schedules", spec)


@pytest.mark.parametrize(("step", "total"), [(-1, 10), (10, 10), (0, 0)])
def test_schedules_reject_positions_outside_the_run(step, total):
    for name in ("linear", "cyclic", "constant"):
        with pytest.raises(ValueError, match="step"):
            plugins.create("schedules", name)(step, total)
