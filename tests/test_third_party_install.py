"""The example third-party plugin, pip-installed for real and used by name."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Install the example with pip into a fresh folder; returns the environment
    in which it is importable (offline, no build isolation)."""
    root = tmp_path_factory.mktemp("third_party")
    source = root / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert list(target.glob("qembed_cosine_schedule-1.2.0.dist-info/entry_points.txt"))
    return {**os.environ, "PYTHONPATH": str(target), "QEMBED_TEST_SOURCE": str(source)}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_installed_plugin_is_created_by_name(installed):
    code = (
        "import qembed.plugins as p; s = p.create('schedules', 'cosine_ramp', power=2.0);"
        "print(type(s).__module__, s(0, 11), s(10, 11))"
    )
    out = run([sys.executable, "-c", code], installed).stdout.split()
    assert out == ["qembed_cosine_schedule.plugin", "0.0", "1.0"]


def test_qembed_plugins_shows_its_distribution_and_version(installed):
    script = str(Path(sys.executable).with_name("qembed"))
    listing = json.loads(run([script, "plugins", "--json"], installed).stdout)
    entry = next(e for e in listing["kinds"]["schedules"] if e["name"] == "cosine_ramp")
    assert (entry["distribution"], entry["version"]) == ("qembed-cosine-schedule", "1.2.0")
    table = run([script, "schedule", "table", "cosine_ramp", "--steps", "3"], installed).stdout
    assert table.split()[-1] == "1.0000"


def test_the_plugins_own_contract_tests_pass(installed):
    tests = Path(installed["QEMBED_TEST_SOURCE"]) / "tests"
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], installed)


TRAIN_BY_NAME = """
import sys, torch
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
torch.manual_seed(0)
corpus = PolysemyCorpus(seed=0, num_train=160, num_val=32, num_test=8)
train, val, _ = corpus.loaders(batch_size=16)
model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                          max_length=32)
trainer = QuantumTrainer(model, "adamw", {"name": "focal", "gamma": 2.0},
                         {"superposition_schedule": {"name": "cosine_ramp", "power": 2.0}, "log_every_n_steps": 3},
                         log_dir=sys.argv[1], progress_bar=False)
trainer.train(train, val, num_epochs=2)
"""


def cosine_ramp(step: int, total_steps: int, power: float) -> float:
    """The example plugin's schedule, written out independently to check logged values."""
    return 0.5 * (1.0 - math.cos(math.pi * (step / (total_steps - 1)) ** power))


def test_installed_schedule_and_loss_train_by_name_and_hooks_see_the_lifecycle(installed, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run([sys.executable, "-c", TRAIN_BY_NAME, str(tmp_path)], installed)
    events = [line.split(",") for line in (tmp_path / "events.csv").read_text().splitlines()]
    kinds = [event[0] for event in events]
    assert kinds[0] == "train_start" and kinds[-1] == "train_end"
    assert kinds.count("epoch_end") == 2
    logged_steps = [int(event[1]) for event in events if event[0] == "log"]
    assert logged_steps == [*range(3, 21, 3), 20]  # 10 steps per epoch, every 3rd step, and the run's last

    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    scalars = {event.step: event.value for event in accumulator.Scalars("train/collapse_probability")}
    assert sorted(scalars) == logged_steps
    for step, value in scalars.items():  # the value the schedule gave at that optimizer step
        assert value == pytest.approx(cosine_ramp(step - 1, 20, power=2.0), abs=1e-6)
