"""A component a third-party plugin registered that raises is named with its plugin:
the distribution, its version and entry point, and the hook that registered it.

The plugin is a real installed distribution (a ``*.dist-info`` on ``sys.path``)
found by a fresh registry's entry-point discovery."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qembed.models import QuantumClassifier
from qembed.plugins import PluginComponentError, PluginRegistry
from qembed.training import QuantumTrainer, trainer as trainer_module
from qembed.training.batches import BadBatchError
from qembed.training.config import ConfigError
from tests.test_train_command import TINY

FRAGILE_PLUGIN = """
import torch
from torch import nn
from qembed.plugins import hookimpl


def _check(labels):
    if labels.max() > 0:
        raise ValueError("fragile cannot take a label above 0")


class Fragile(nn.Module):
    def forward(self, logits, labels):
        _check(labels)
        return nn.functional.cross_entropy(logits, labels)


def late(step, total_steps):
    if step >= 1:
        raise RuntimeError("late gave up at step 1")
    return 0.0


def unbuildable(params, lr=1e-3):
    if not isinstance(lr, float):
        raise ValueError(f"lr must be a float, got {lr!r}")
    raise RuntimeError("no optimizer today")


@hookimpl
def qembed_register_losses():
    return {"fragile": Fragile}


@hookimpl
def qembed_register_schedules():
    return {"late": lambda: late}


@hookimpl
def qembed_register_optimizers():
    return {"unbuildable": unbuildable}
"""

SOURCE = "fragile-components 1.2 (components = fragile_plugin), registered by"
BATCHES = [{"input_ids": torch.arange(10).view(2, 5) % 20, "attention_mask": torch.ones(2, 5, dtype=torch.long),
            "labels": torch.tensor([0, 1])}] * 2


@pytest.fixture
def fragile(make_distribution, monkeypatch):
    """The process registry replaced by a fresh one that finds the fragile distribution."""
    site = make_distribution("fragile-components", "1.2", {"components": "fragile_plugin"},
                             {"fragile_plugin": FRAGILE_PLUGIN})
    monkeypatch.setattr(trainer_module, "default_registry", PluginRegistry)
    return site


def model() -> QuantumClassifier:
    return QuantumClassifier(20, 2, embedding_dim=8, num_heads=2, num_layers=0, max_length=8)


def test_a_loss_that_raises_in_training_and_validation_is_named_with_its_plugin(fragile):
    trainer = QuantumTrainer(model(), "adamw", "fragile", progress_bar=False)
    expected = (f"loss 'fragile' (loss_fn) from {SOURCE} qembed_register_losses(), raised ValueError: "
                "fragile cannot take a label above 0")
    for run in (trainer.train_epoch, trainer.validate, lambda b: trainer.train(b, num_epochs=1)):
        with pytest.raises(PluginComponentError) as caught:
            run(BATCHES)
        assert str(caught.value) == expected
        assert isinstance(caught.value.__cause__, ValueError)  # the plugin author still gets the traceback


def test_a_schedule_that_raises_mid_run_is_named_with_its_plugin(fragile):
    trainer = QuantumTrainer(model(), "adamw", "cross_entropy", {"superposition_schedule": "late"},
                             progress_bar=False)
    with pytest.raises(PluginComponentError, match=re.escape(
            f"superposition schedule 'late' (superposition_schedule) from {SOURCE} qembed_register_schedules(), "
            "raised RuntimeError: late gave up at step 1")):
        trainer.train_epoch(BATCHES)
    assert trainer.global_step == 1  # the first step trained; the error came at the second


def test_a_component_that_fails_to_build_is_named_with_its_plugin(fragile):
    with pytest.raises(PluginComponentError, match=re.escape(
            f"building optimizer 'unbuildable' (from {SOURCE} qembed_register_optimizers()) raised "
            "RuntimeError: no optimizer today")):
        QuantumTrainer(model(), "unbuildable", "cross_entropy")
    with pytest.raises(ConfigError, match=re.escape(
            f"optimizer: invalid options for optimizer 'unbuildable' (from {SOURCE} "
            "qembed_register_optimizers()): lr must be")):  # the plugin's own ValueError, with its source
        QuantumTrainer(model(), {"name": "unbuildable", "lr": "x"}, "cross_entropy")


def test_errors_outside_plugin_code_are_left_as_they_are(fragile):
    trainer = QuantumTrainer(model(), "adamw", "fragile", progress_bar=False)
    with pytest.raises(BadBatchError):  # a batch without labels: the trainer's own error, not the plugin's
        trainer.train_epoch([{"input_ids": torch.zeros(2, 5, dtype=torch.long)}])
    built = QuantumTrainer(model(), "adamw", torch.nn.CrossEntropyLoss(), progress_bar=False)
    assert built.train_epoch(BATCHES)["loss"] > 0  # a built object has no plugin to name, and works


@pytest.mark.slow
def test_the_cli_names_the_failing_plugin_in_one_line(fragile, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TINY.replace('[loss]\nname = "quantum"\nuncertainty_weight = 0.05', '[loss]\nname = "fragile"'))
    script = Path(sys.executable).with_name("qembed")
    env = {**os.environ, "PYTHONPATH": str(fragile)}
    result = subprocess.run([str(script), "train", str(config), "--set", f"training.log_dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"qembed: error: loss 'fragile' (loss_fn) from {SOURCE} qembed_register_losses()" in result.stderr
