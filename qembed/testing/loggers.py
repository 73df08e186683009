"""Contract check for loggers, and the generated logging it replays."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qembed.plugins.contracts import Logger
from qembed.testing.members import assert_members
from qembed.testing.phases import PHASES

SECTIONS = ("train", "val", "epoch")
_names = st.from_regex(r"[a-z][a-z_]{0,11}(/[a-z]{1,8})?", fullmatch=True)
_values = st.floats(-1e6, 1e6, allow_nan=False)
Calls = list[tuple[dict[str, float], int, str]]


#: logged once per run, as the trainer does: a value of every type, a sectioned name
HYPERPARAMETERS: dict[str, Any] = {"flag": True, "count": 3, "rate": 0.5, "name": "linear", "optimizer/lr": 1e-3}


@st.composite
def logged_calls(draw: st.DrawFn) -> Calls:
    """``(metrics, step offset, section)`` calls whose offsets never go back in a section."""
    calls: Calls = []
    steps = dict.fromkeys(SECTIONS, 0)
    for section in draw(st.lists(st.sampled_from(SECTIONS), max_size=8), label="sections"):
        steps[section] += draw(st.integers(0, 3))
        calls.append((draw(st.dictionaries(_names, _values, min_size=1, max_size=4)), steps[section], section))
    return calls


def check_logger(factory: Callable[..., Any], /, *, max_examples: int = 20, **options: Any) -> None:
    """Check that ``factory(log_dir, **options)`` builds a logger honouring the contract
    (:class:`qembed.plugins.contracts.Logger`), in a temporary run folder.

    It must have the protocol's members and write nothing when built. Then two runs
    (``train()`` called twice), each ``start(step)``, ``log_hyperparameters``
    (:data:`HYPERPARAMETERS`), the generated ``log_metrics`` calls of every section
    (:func:`logged_calls`, ``max_examples`` of them, steps never going back) and
    ``finish``, must raise nothing and leave the mappings given unchanged. A logger is
    started twice only, so a store that is slow to open (W&B) checks in seconds. Raises
    ``AssertionError`` with the failing calls.
    """
    label = f"{getattr(factory, '__name__', factory)!s}(log_dir, **{options!r})"
    with tempfile.TemporaryDirectory() as folder:
        log_dir = Path(folder) / "run"
        logger = factory(log_dir, **options)
        assert_members(logger, Logger, label)
        assert not log_dir.exists(), f"{label} wrote {log_dir} when built, before start()"
        step = 0  # where the run is: every example logs after the last one

        @settings(max_examples=max_examples, deadline=None, database=None, phases=PHASES,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(calls=logged_calls())
        def logs(calls: Calls) -> None:
            nonlocal step
            given_calls = copy.deepcopy(calls)
            _calling(label, f"log_metrics on {calls!r}", lambda: _replay(logger, step, calls))
            assert calls == given_calls, f"{label} changed the metrics it was given"
            step += max((offset for _, offset, _ in calls), default=0) + 1

        for run in ("first", "second"):
            params = copy.deepcopy(HYPERPARAMETERS)
            _calling(label, f"start({step}) of the {run} run", lambda: logger.start(step))
            _calling(label, f"log_hyperparameters({params!r})", lambda: logger.log_hyperparameters(params))
            assert params == HYPERPARAMETERS, f"{label} changed the hyperparameters it was given"
            logs()
            _calling(label, f"finish() of the {run} run", lambda: logger.finish({"loss": 1.0}))


def _replay(logger: Any, step: int, calls: Calls) -> None:
    for metrics, offset, section in calls:
        logger.log_metrics(metrics, step + offset, section)


def _calling(label: str, what: str, call: Callable[[], object]) -> None:
    """``call()``; whatever it raises is a contract failure naming ``what`` was called."""
    try:
        call()
    except Exception as err:
        raise AssertionError(f"{label}: {what} raised {type(err).__name__}: {err}") from err
