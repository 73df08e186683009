"""``qembed.integrations.lightning`` against the real Lightning: the seed's snippet, the
schedule per global step, metrics in Lightning's loggers, checkpoint/resume, precision,
the config keys Lightning owns, and the example script."""

from __future__ import annotations

import csv
import importlib
import subprocess
import sys
from typing import Any

import pytest
import torch

lightning = pytest.importorskip("lightning")
pl = pytest.importorskip("pytorch_lightning")

from lightning.pytorch.callbacks import Callback, ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from qembed import plugins  # noqa: E402
from qembed.data import PolysemyCorpus  # noqa: E402
from qembed.integrations.lightning import LIGHTNING_EQUIVALENTS, QuantumLightningModule  # noqa: E402
from qembed.models import QuantumClassifier  # noqa: E402
from qembed.training import ConfigError  # noqa: E402
from tests.conftest import REPO_ROOT  # noqa: E402
from tests.host_reads import host_reads_refused  # noqa: E402

pytestmark = pytest.mark.integration

#: The seed's "### 2. PyTorch Lightning" snippet, verbatim.
SEED_SNIPPET = """\
import pytorch_lightning as pl
from qembed.training import QuantumTrainer

class QuantumLightningModule(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.quantum_trainer = QuantumTrainer(
            model=self.model,
            optimizer=self.optimizer,
            loss_fn=self.loss_fn
        )
    
    def training_step(self, batch, batch_idx):
        return self.quantum_trainer.training_step(batch, batch_idx)
"""

OPTIMIZER = {"name": "quantum", "lr": 3e-3}


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=96, num_val=32, num_test=32)  # 6 training batches of 16


def tiny_model(corpus: PolysemyCorpus, seed: int = 0) -> QuantumClassifier:
    torch.manual_seed(seed)
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                             max_length=32)


def make_module(corpus: PolysemyCorpus, config: dict[str, Any] | None = None, seed: int = 0,
                **options: Any) -> QuantumLightningModule:
    return QuantumLightningModule(tiny_model(corpus, seed), OPTIMIZER, "quantum", config, **options)


def make_trainer(trainer_class: Any = None, **options: Any) -> Any:
    settings = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    return (trainer_class or lightning.Trainer)(**{**settings, **options})


def copied(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in state.items()}


def same(a: Any, b: Any) -> bool:
    """Equal nested states: tensors element by element, containers item by item."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    return a == b


class CollapseRecorder(Callback):
    """The global step and the collapse probability of every training batch."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.probabilities: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.steps.append(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.probabilities.append(pl_module.quantum_trainer.collapse_probability)


# --- the seed's snippet ------------------------------------------------------------------


def test_seed_snippet_trains_once_it_is_given_what_it_reads(corpus):
    namespace: dict[str, Any] = {}
    exec(compile(SEED_SNIPPET, "seed-lightning-snippet", "exec"), namespace)
    SeedModule = namespace["QuantumLightningModule"]
    with pytest.raises(AttributeError, match="'model'"):
        SeedModule()  # as written it reads self.model before anything sets it

    class Parts(pl.LightningModule):
        """Sets what the seed's __init__ reads: its super().__init__() runs this."""

        def __init__(self) -> None:
            super().__init__()
            self.model = tiny_model(corpus)
            self.optimizer = {"name": "quantum", "lr": 1e-2}
            self.loss_fn = "quantum"

    class Trainable(SeedModule, Parts):
        def configure_optimizers(self):  # the seed defines none
            return self.quantum_trainer.optimizer

    module = Trainable()
    train, _, _ = corpus.loaders(batch_size=16)
    before = copied(module.model.state_dict())
    loss_before = module.quantum_trainer.validate(train)["loss"]
    # the trainer the seed builds picks CUDA when there is one; Lightning must train there too
    make_trainer(pl.Trainer, max_steps=12, accelerator="cuda" if torch.cuda.is_available() else "cpu").fit(
        module, train)
    after = module.model.state_dict()
    assert [key for key in before if not torch.equal(before[key], after[key].cpu())] != []
    assert module.quantum_trainer.validate(train)["loss"] < loss_before


def test_docs_show_the_seed_snippet_verbatim():
    assert SEED_SNIPPET in (REPO_ROOT / "docs" / "integrations.md").read_text()


# --- both Lightning packages ---------------------------------------------------------------


@pytest.mark.parametrize(("package", "core"), [("lightning", "lightning.pytorch"), ("pytorch_lightning", "pytorch_lightning")])
def test_each_lightning_package_trains_its_own_module(corpus, tmp_path, package, core):
    """Each package's Trainer accepts only its own LightningModule: qembed has one module per package."""
    module_class = importlib.import_module(f"qembed.integrations.{package}").QuantumLightningModule
    framework = importlib.import_module(core)
    train, val, _ = corpus.loaders(batch_size=16)
    module = module_class(tiny_model(corpus), OPTIMIZER, "quantum")
    assert isinstance(module, framework.LightningModule)
    saved = framework.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = make_trainer(framework.Trainer, max_steps=6, enable_checkpointing=True, callbacks=[saved])
    trainer.fit(module, train, val)
    assert {"train_loss", "collapse_probability", "val_loss", "val_accuracy"} <= set(trainer.callback_metrics)
    assert "qembed" in torch.load(tmp_path / "last.ckpt", weights_only=False)


# --- training, schedule and metrics ----------------------------------------------------------


def test_quantum_metrics_reach_lightning_loggers_and_follow_the_schedule(corpus, tmp_path):
    train, val, _ = corpus.loaders(batch_size=16)
    module = make_module(corpus, {"quantum_gradient_clipping": True})
    recorder = CollapseRecorder()
    trainer = make_trainer(max_steps=6, logger=CSVLogger(tmp_path), log_every_n_steps=1, callbacks=[recorder])
    trainer.fit(module, train, val)

    linear = plugins.create("schedules", "linear")
    assert recorder.steps == list(range(6))
    assert recorder.probabilities == [linear(step, 6) for step in range(6)]
    with open(next(tmp_path.rglob("metrics.csv"))) as file:
        rows = list(csv.DictReader(file))
    training = [row for row in rows if row["train_loss"]]
    assert [int(row["step"]) for row in training] == list(range(6))
    assert [float(row["collapse_probability"]) for row in training] == pytest.approx(recorder.probabilities)
    for name in ("quantum_loss", "uncertainty", "superposition_coherence", "entanglement_strength", "grad_norm",
                 "grad_norm/quantum"):
        assert all(float(row[name]) >= 0 for row in training), name
    (validation,) = [row for row in rows if row["val_loss"]]
    assert 0 <= float(validation["val_accuracy"]) <= 1
    expected = module.quantum_trainer.validate(val)
    logged = trainer.callback_metrics
    for name in ("loss", "accuracy", "ece", "nll", "brier", "uncertainty", "superposition_coherence"):
        assert float(logged[f"val_{name}"]) == pytest.approx(expected[name], abs=1e-6), name


class SyncFreeLogging(QuantumLightningModule):
    """Fails a step that logs a Python number (Lightning copies it to the device: a sync
    per step on GPU) or whose logging or clipping reads a tensor's value on the host."""

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        assert isinstance(value, torch.Tensor), f"{name} was logged as a {type(value).__name__}"
        with host_reads_refused():
            super().log(name, value, *args, **kwargs)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        with host_reads_refused():
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)


def test_the_step_metrics_and_clipping_cost_no_device_sync(corpus):
    train, _, _ = corpus.loaders(batch_size=16)
    module = SyncFreeLogging(tiny_model(corpus), OPTIMIZER, "quantum", {"quantum_gradient_clipping": True})
    trainer = make_trainer(max_steps=3)
    trainer.fit(module, train)
    logged = trainer.callback_metrics
    assert {"train_loss", "uncertainty", "collapse_probability", "grad_norm"} <= set(logged)
    # the progress bar reads it every step, so it is a CPU tensor whatever the module's device
    assert logged["collapse_probability"].device.type == "cpu" and trainer.global_step == 3


def test_schedule_and_lr_scheduler_count_optimizer_steps_under_gradient_accumulation(corpus):
    train, _, _ = corpus.loaders(batch_size=16)
    module = make_module(corpus, lr_scheduler=lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5))
    recorder = CollapseRecorder()
    make_trainer(max_steps=3, accumulate_grad_batches=2, callbacks=[recorder]).fit(module, train)
    assert recorder.steps == [0, 0, 1, 1, 2, 2]
    assert recorder.probabilities == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert module.quantum_trainer.optimizer.param_groups[0]["lr"] == pytest.approx(OPTIMIZER["lr"] * 0.5**3)


def test_lightning_mixed_precision_reaches_the_forward(corpus):
    train, _, _ = corpus.loaders(batch_size=16)
    module = make_module(corpus)
    make_trainer(max_steps=1, precision="bf16-mixed").fit(module, train)
    assert module.quantum_trainer.last_outputs.logits.dtype == torch.bfloat16


def test_lightning_test_loop_logs_test_metrics(corpus):
    _, _, test = corpus.loaders(batch_size=16)
    module = make_module(corpus)
    (results,) = make_trainer().test(module, test, verbose=False)
    assert results["test_accuracy"] == pytest.approx(module.quantum_trainer.validate(test)["accuracy"])


def test_a_module_without_an_optimizer_tests_and_refuses_to_fit(corpus, tmp_path):
    train, _, test = corpus.loaders(batch_size=16)
    module = QuantumLightningModule(tiny_model(corpus), None, "quantum")
    (results,) = make_trainer().test(module, test, verbose=False)
    assert results["test_accuracy"] == pytest.approx(module.quantum_trainer.validate(test)["accuracy"])
    fresh = QuantumLightningModule(tiny_model(corpus), None, "quantum")
    with pytest.raises(ConfigError, match="no optimizer: .*optimizer=None.*fit needs one"):
        make_trainer(max_steps=1, default_root_dir=tmp_path).fit(fresh, train)
    with pytest.raises(ConfigError, match="lr_scheduler schedules an optimizer, but optimizer is None"):
        QuantumLightningModule(tiny_model(corpus), None, lr_scheduler=lambda optimizer: None)


# --- checkpoint and resume -----------------------------------------------------------------


class StartState(Callback):
    """What the module holds when training (re)starts."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.global_step = trainer.global_step
        self.weights = copied(pl_module.model.state_dict())
        self.replay = pl_module.quantum_trainer.replay.state_dict()


def test_resume_from_a_lightning_checkpoint_continues_the_run(corpus, tmp_path):
    config = {"quantum_memory_replay": True}
    steps = 6  # one epoch: Lightning resumes a loader that cannot resume mid-epoch at an epoch's end
    train, _, _ = corpus.loaders(batch_size=16)
    first = make_module(corpus, config)
    checkpoints = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=steps, save_last=True)
    make_trainer(max_steps=steps, callbacks=[checkpoints], enable_checkpointing=True).fit(first, train)
    saved_weights = copied(first.model.state_dict())
    saved_replay = first.quantum_trainer.replay.state_dict()
    assert len(first.quantum_trainer.replay) == steps * 16

    second = make_module(corpus, config, seed=1)
    assert not torch.equal(second.model.state_dict()["head.weight"], saved_weights["head.weight"])
    start, recorder = StartState(), CollapseRecorder()
    trainer = make_trainer(max_steps=2 * steps, callbacks=[start, recorder])
    trainer.fit(second, corpus.loaders(batch_size=16)[0], ckpt_path=tmp_path / "last.ckpt")

    assert start.global_step == steps and trainer.global_step == 2 * steps
    assert same(start.weights, saved_weights)
    assert same(start.replay, saved_replay)
    linear = plugins.create("schedules", "linear")
    assert recorder.steps == list(range(steps, 2 * steps))
    assert recorder.probabilities == [linear(step, 2 * steps) for step in recorder.steps]

    restored = QuantumLightningModule.load_from_checkpoint(tmp_path / "last.ckpt", model=tiny_model(corpus, 2),
                                                           optimizer=OPTIMIZER, loss_fn="quantum")
    assert restored.config == first.config
    assert same(copied(restored.model.state_dict()), saved_weights)


# --- what Lightning owns, and other mistakes ----------------------------------------------------


@pytest.mark.parametrize("key, value", [
    ("mixed_precision", True),
    ("gradient_accumulation_steps", 2),
    ("distributed_training", True),
    ("log_every_n_steps", 10),
    ("early_stopping_min_delta", 0.1),
    ("max_nonfinite_steps", None),
])
def test_a_config_key_lightning_owns_names_what_to_use_instead(corpus, key, value):
    with pytest.raises(ConfigError) as error:
        make_module(corpus, {key: value})
    assert repr(key) in str(error.value) and LIGHTNING_EQUIVALENTS[key] in str(error.value)


def test_every_lightning_owned_key_is_named_at_once(corpus):
    with pytest.raises(ConfigError, match="'distributed_training'.*'quantum_sync'"):
        make_module(corpus, {"distributed_training": True, "quantum_sync": True})


def test_clipping_by_both_the_config_and_lightning_is_refused(corpus):
    module = make_module(corpus, {"quantum_gradient_clipping": True})
    with pytest.raises(ConfigError, match="gradient_clip_val"):
        make_trainer(max_steps=1, gradient_clip_val=1.0).fit(module, corpus.loaders(batch_size=16)[0])


def test_a_run_without_an_end_is_refused_for_the_schedule(corpus):
    module = make_module(corpus)
    with pytest.raises(ValueError, match="max_steps or max_epochs"):
        make_trainer(max_epochs=-1).fit(module, corpus.loaders(batch_size=16)[0])


def test_misuse_is_named(corpus):
    with pytest.raises(ConfigError, match="did you mean 'superposition_schedule'"):
        make_module(corpus, {"superposition_shedule": "linear"})
    with pytest.raises(RuntimeError, match="built in setup"):
        make_module(corpus).quantum_trainer
    module = QuantumLightningModule(tiny_model(corpus), OPTIMIZER, "quantm")
    with pytest.raises(ConfigError, match="loss_fn: .*did you mean 'quantum'"):
        make_trainer(max_steps=1).fit(module, corpus.loaders(batch_size=16)[0])


# --- packaging -------------------------------------------------------------------------------


@pytest.mark.slow
def test_example_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "examples/lightning_integration.py", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed and finished at step 8" in result.stdout
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_a_schedule_by_name_is_refused_naming_the_callable_to_write(corpus):
    with pytest.raises(TypeError, match="the Lightning adapter takes a built LRScheduler or a callable"):
        make_module(corpus, lr_scheduler="warmup_cosine")
