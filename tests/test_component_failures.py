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
from qembed.plugins import PluginComponentError, PluginHookError, PluginRegistry
from qembed.training import QuantumTrainer, trainer as trainer_module
from qembed.training.batches import BadBatchError
from qembed.training.config import ConfigError
from tests.test_train_command import TINY

FRAGILE_PLUGIN = """
import functools
import torch
from torch import nn
from qembed.plugins import hookimpl
from fragile_common import ShapeChecks


class Mixed(ShapeChecks, nn.Module):
    def forward(self, logits, labels):
        return nn.functional.cross_entropy(logits, labels)


def _check(labels):
    if labels.max() > 0:
        raise ValueError("fragile cannot take a label above 0")


class Fragile(nn.Module):
    def forward(self, logits, labels):
        _check(labels)
        return nn.functional.cross_entropy(logits, labels)


def overshoot(step, total_steps):
    return 1.5


def late(step, total_steps):
    if step >= 1:
        raise RuntimeError("late gave up at step 1")
    return 0.0


class Hungry(nn.Module):
    def forward(self, logits, labels):
        raise torch.OutOfMemoryError("hungry ran out of memory")


class BadStep(torch.optim.SGD):
    def step(self, closure=None):
        raise RuntimeError("badstep cannot step")


def per_example(logits, labels):
    return nn.functional.cross_entropy(logits, labels, reduction="none")


def unbuildable(params, lr=1e-3):
    if not isinstance(lr, float):
        raise ValueError(f"lr must be a float, got {lr!r}")
    raise RuntimeError("no optimizer today")


@hookimpl
def qembed_trainer_plugins(trainer):
    if trainer.log_dir is not None:
        if trainer.log_dir.name == "refuse":
            raise RuntimeError("no plugins for this trainer")
        if trainer.log_dir.name == "mapping":
            return {"a": object()}
    return []


@hookimpl
def qembed_register_losses():
    return {"fragile": Fragile, "hungry": Hungry, "mixed": Mixed,
            "smooth_ce": lambda: functools.partial(nn.functional.cross_entropy, label_smoothing=0.1),
            "per_example": lambda: per_example}


@hookimpl
def qembed_register_schedules():
    return {"late": lambda: late, "overshoot": lambda: overshoot}


@hookimpl
def qembed_register_optimizers():
    return {"unbuildable": unbuildable, "badstep": BadStep}
"""

COMMON = """
class ShapeChecks:
    def check_batch(self, input_ids):
        if input_ids.shape[0] > 1:
            raise ValueError("ShapeChecks wants one example")
"""

SOURCE = "fragile-components 1.2 (components = fragile_plugin), registered by"
BATCHES = [{"input_ids": torch.arange(10).view(2, 5) % 20, "attention_mask": torch.ones(2, 5, dtype=torch.long),
            "labels": torch.tensor([0, 1])}] * 2


@pytest.fixture
def fragile(make_distribution, monkeypatch):
    """The process registry replaced by a fresh one that finds the fragile distribution."""
    site = make_distribution("fragile-components", "1.2", {"components": "fragile_plugin"},
                             {"fragile_plugin": FRAGILE_PLUGIN, "fragile_common": COMMON})
    registry = PluginRegistry()
    monkeypatch.setattr(trainer_module, "default_registry", lambda: registry)
    return registry


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


def test_a_schedule_that_breaks_its_contract_is_named_with_its_plugin(fragile):
    trainer = QuantumTrainer(model(), "adamw", "cross_entropy", {"superposition_schedule": "overshoot"},
                             progress_bar=False)
    with pytest.raises(ValueError, match=re.escape(
            "superposition schedule 'overshoot' from fragile-components 1.2 (components = fragile_plugin) "
            "returned 1.5 at step 0 of 2; a schedule must return a number in [0, 1]")):
        trainer.train_epoch(BATCHES)


def test_a_loss_that_breaks_its_contract_is_named_with_its_plugin(fragile):
    trainer = QuantumTrainer(model(), "adamw", "per_example", progress_bar=False)
    with pytest.raises(ValueError, match=re.escape(
            "loss 'per_example' from fragile-components 1.2 (components = fragile_plugin) must return a scalar "
            "tensor, got (2,)")):
        trainer.train_epoch(BATCHES)


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


def test_an_optimizer_built_by_name_and_passed_built_is_named_when_its_step_raises(fragile):
    network = model()
    optimizer = fragile.create("optimizers", "badstep", network.parameters(), lr=0.1)
    trainer = QuantumTrainer(network, optimizer, "cross_entropy", progress_bar=False)
    with pytest.raises(PluginComponentError, match=re.escape(
            f"optimizer 'badstep' (optimizer) from {SOURCE} qembed_register_optimizers(), raised RuntimeError: "
            "badstep cannot step")):
        trainer.train_epoch(BATCHES)


def test_running_out_of_memory_keeps_its_type_with_a_note_naming_the_plugin(fragile):
    trainer = QuantumTrainer(model(), "adamw", "hungry", progress_bar=False)
    with pytest.raises(torch.OutOfMemoryError) as caught:
        trainer.train_epoch(BATCHES)
    assert caught.value.__notes__ == [f"loss 'hungry' (loss_fn) from {SOURCE} qembed_register_losses(), raised "
                                      "OutOfMemoryError: hungry ran out of memory"]


class _SharesAMixin(QuantumClassifier):
    """A user's model that uses, as the plugin's loss does, a helper class from a shared library."""

    def forward(self, input_ids, attention_mask=None):
        import fragile_common

        fragile_common.ShapeChecks.check_batch(self, input_ids)
        return super().forward(input_ids, attention_mask)


class _CallsCrossEntropy(QuantumClassifier):
    """A user's model that calls the torch function a plugin's loss is a partial of, wrongly."""

    def forward(self, input_ids, attention_mask=None):
        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 7]))
        return super().forward(input_ids, attention_mask)


@pytest.mark.parametrize(("model_class", "loss", "error"),
                         [(_SharesAMixin, "mixed", ValueError), (_CallsCrossEntropy, "smooth_ce", IndexError)])
def test_the_users_own_code_is_not_blamed_on_a_plugin_that_shares_its_code(fragile, model_class, loss, error):
    network = model_class(20, 2, embedding_dim=8, num_heads=2, num_layers=0, max_length=8)
    trainer = QuantumTrainer(network, "adamw", loss, progress_bar=False)
    with pytest.raises(error) as caught:
        trainer.train_epoch(BATCHES)
    assert not isinstance(caught.value, PluginComponentError)


def test_a_plugin_failing_to_give_a_trainer_its_plugins_is_named(fragile, tmp_path):
    with pytest.raises(PluginHookError, match=re.escape(
            "qembed_trainer_plugins of fragile-components 1.2 (components = fragile_plugin) raised RuntimeError: "
            "no plugins for this trainer")):
        QuantumTrainer(model(), "adamw", "cross_entropy", log_dir=tmp_path / "refuse")
    with pytest.raises(PluginHookError, match=r"returned a dict; it must return a list or tuple of plugin objects"):
        QuantumTrainer(model(), "adamw", "cross_entropy", log_dir=tmp_path / "mapping")
    QuantumTrainer(model(), "adamw", "cross_entropy", log_dir=tmp_path / "fine")  # the plugin returns []


@pytest.mark.slow
def test_the_cli_names_the_failing_plugin_in_one_line(fragile, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TINY.replace('[loss]\nname = "quantum"\nuncertainty_weight = 0.05', '[loss]\nname = "fragile"'))
    script = Path(sys.executable).with_name("qembed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if "site" in Path(p).name)}
    result = subprocess.run([str(script), "train", str(config), "--set", f"training.log_dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"qembed: error: loss 'fragile' (loss_fn) from {SOURCE} qembed_register_losses()" in result.stderr
