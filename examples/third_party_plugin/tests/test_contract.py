"""The plugin's own tests: qembed's contract checks on its schedule and loss."""

from types import SimpleNamespace

import pytest

from qembed import plugins
from qembed.testing import check_loss, check_schedule
from qembed_cosine_schedule import plugin
from qembed_cosine_schedule.plugin import CosineRampSchedule, FocalLoss


@pytest.mark.parametrize("power", [0.5, 1.0, 3.0])
def test_cosine_ramp_honours_the_schedule_contract(power):
    check_schedule(CosineRampSchedule, power=power)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_focal_loss_honours_the_loss_contract(gamma):
    check_loss(FocalLoss, gamma=gamma)


def test_qembed_finds_the_components_by_name():
    schedule = plugins.create("schedules", "cosine_ramp", power=2.0)
    assert isinstance(schedule, CosineRampSchedule)
    assert plugins.available("schedules")["cosine_ramp"].distribution == "qembed-cosine-schedule"
    assert isinstance(plugins.create("losses", "focal", gamma=1.0), FocalLoss)


@pytest.mark.parametrize("main", [True, False])
def test_only_the_main_process_writes_events(tmp_path, main):
    trainer = SimpleNamespace(log_dir=tmp_path, is_main_process=main, global_step=0)
    plugin.qembed_on_train_start(trainer)
    plugin.qembed_on_train_end(trainer, {})
    events = tmp_path / "events.csv"
    assert (events.read_text().splitlines() == ["train_start,0,", "train_end,0,"]) if main else not events.exists()
