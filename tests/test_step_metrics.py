"""Step metrics as named records: sums over the finite batches by name, one host read,
and mid-epoch positions matched by name (positions saved before names were recorded too)."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed.training.interruption import EpochPosition
from qembed.training.step_metrics import MetricSums, read

NAMES = ("loss", "quantum_loss", "uncertainty")
_VALUES = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from([math.nan, math.inf, -math.inf]))


@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES), max_size=12))
def test_the_mean_of_each_metric_is_over_its_finite_batches_and_nan_when_there_is_none(batches):
    sums = MetricSums(NAMES, "cpu")
    for batch in batches:
        sums.add({name: torch.tensor(value) for name, value in zip(NAMES, batch)})
    means = read(sums.means())
    assert list(means) == list(NAMES)
    for index, name in enumerate(NAMES):
        finite = [batch[index] for batch in batches if math.isfinite(batch[index])]
        if not finite:
            assert math.isnan(means[name])  # never 0.0: an epoch of skipped steps must not become the best
        else:
            expected = math.fsum(finite) / len(finite)  # the device sums in float32: its rounding, no more
            assert math.isclose(means[name], expected, rel_tol=1e-5, abs_tol=1e-3)


def test_a_window_merged_into_the_epoch_starts_again_from_zero():
    window, epoch = MetricSums(NAMES, "cpu"), MetricSums(NAMES, "cpu")
    window.add({name: torch.tensor(2.0) for name in NAMES})
    window.merge_into(epoch)
    window.add({name: torch.tensor(4.0) for name in NAMES})
    assert read(epoch.means()) == dict.fromkeys(NAMES, 2.0)
    assert read(epoch.combined(window).means()) == dict.fromkeys(NAMES, 3.0)


def _position_state(sums: torch.Tensor, **extra) -> dict:
    return {"epoch": 0, "batches_done": 3, "sampler_at_start": None, "torch_at_start": torch.get_rng_state(),
            "epoch_sums": sums, "window": torch.zeros_like(sums), "nonfinite": torch.zeros(3),
            "skipped_before": torch.zeros(()), "collapse_sum": 0.0, "batches_seen": 3, **extra}


def test_a_position_saved_before_metric_names_were_recorded_resumes_in_the_current_order():
    sums = torch.tensor([[3.0, 6.0, 9.0], [3.0, 3.0, 3.0]])  # version 1: the metrics in NAMES' order
    position = EpochPosition.from_state(_position_state(sums), NAMES, torch.device("cpu"))
    assert read(position.epoch_sums.means()) == {"loss": 1.0, "quantum_loss": 2.0, "uncertainty": 3.0}


def test_a_position_is_matched_by_name_and_a_metric_it_lacks_starts_from_zero():
    sums = torch.tensor([[6.0, 3.0], [3.0, 3.0]])
    state = _position_state(sums, metric_names=["quantum_loss", "loss"])
    position = EpochPosition.from_state(state, NAMES, torch.device("cpu"))
    means = read(position.epoch_sums.means())
    assert (means["loss"], means["quantum_loss"]) == (1.0, 2.0) and math.isnan(means["uncertainty"])
    assert position.state_dict()["metric_names"] == list(NAMES)
