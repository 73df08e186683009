"""Step-based control and monitored checkpoints: max_steps, validation and checkpoints every
N steps, monitor / mode / save_top_k, and exact resume from a step checkpoint."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.monitor import Monitor

STEPS_PER_EPOCH = 4  # 64 training sentences in batches of 16


class Recorder:
    """What the lifecycle hooks saw: logged steps, validations and checkpoints, by step."""

    def __init__(self) -> None:
        self.logs, self.validations, self.checkpoints = [], [], []

    @hookimpl
    def qembed_on_log(self, trainer, step, metrics):
        self.logs.append((step, dict(metrics)))

    @hookimpl
    def qembed_on_validation_end(self, trainer, epoch, metrics):
        self.validations.append(trainer.global_step)

    @hookimpl
    def qembed_on_checkpoint(self, trainer, path):
        self.checkpoints.append((trainer.global_step, path))


@pytest.fixture(scope="module")
def loaders():
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=16, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16, seed=0)
    return corpus, train, val


def make_trainer(corpus, *, log_every=50, plugins=()):
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32, dropout=0.1, collapse_strategy="sample")
    config = {"superposition_schedule": {"name": "cyclic", "cycle_steps": 3}, "log_every_n_steps": log_every,
              "quantum_memory_replay": {"name": "reservoir", "capacity": 32, "replay_ratio": 0.25}}
    return QuantumTrainer(model, {"name": "adamw", "lr": 3e-3}, "quantum", config, plugins=plugins,
                          progress_bar=False)


def test_max_steps_ends_mid_epoch_the_schedule_spans_it_and_the_last_step_is_logged(loaders):
    corpus, train, _ = loaders
    seen = Recorder()
    trainer = make_trainer(corpus, plugins=[seen])
    spans = []
    schedule = trainer.schedule
    trainer.schedule = lambda step, total: spans.append(total) or schedule(step, total)
    with pytest.warns(UserWarning, match="log_every_n_steps=50 is more than the 6 optimizer steps"):
        history = trainer.train(train, num_epochs=5, max_steps=6)
    assert trainer.global_step == 6 and history["epoch"] == [0, 1]  # the second epoch stopped after 2 of 4 steps
    assert set(spans) == {6}
    assert [step for step, _ in seen.logs] == [6]


def test_validation_and_checkpoints_every_n_steps(loaders, tmp_path):
    corpus, train, val = loaders
    seen = Recorder()
    trainer = make_trainer(corpus, plugins=[seen])
    trainer.train(train, val, num_epochs=2, val_check_interval=3, checkpoint_every_n_steps=5,
                  checkpoint_dir=tmp_path, save_top_k=0)
    assert seen.validations == [3, 4, 6, 8]  # every 3 steps, and every epoch end
    assert [(step, path.rsplit("/", 1)[1]) for step, path in seen.checkpoints] == [
        (4, "last.pth"), (5, "last.pth"), (8, "last.pth")]
    fraction = Recorder()
    make_trainer(corpus, plugins=[fraction]).train(train, val, num_epochs=2, val_check_interval=0.5)
    assert fraction.validations == [2, 4, 6, 8]  # half an epoch: 2 of its 4 steps


@pytest.mark.parametrize(("top_k", "kept"), [(2, 2), (-1, 4), (0, 0)])
def test_save_top_k_keeps_the_best_files_named_with_epoch_step_and_value(loaders, tmp_path, top_k, kept):
    corpus, train, val = loaders
    trainer = make_trainer(corpus)
    history = trainer.train(train, val, num_epochs=4, monitor="val_accuracy", mode="max", save_top_k=top_k,
                            checkpoint_dir=tmp_path)
    names = [f"epoch={e}-step={(e + 1) * STEPS_PER_EPOCH}-val_accuracy={history['val_accuracy'][e]:.4f}.pth"
             for e in sorted(range(4), key=lambda e: (-history["val_accuracy"][e], e))[:kept]]
    assert sorted(p.name for p in tmp_path.glob("epoch=*")) == sorted(names)
    assert (tmp_path / "last.pth").is_file()
    assert trainer.best_checkpoint == (tmp_path / names[0] if names else None)


def test_early_stopping_follows_the_monitor_and_mode(loaders):
    corpus, train, val = loaders
    history = make_trainer(corpus).train(train, val, num_epochs=6, monitor="val_loss", mode="max",
                                         early_stopping_patience=1)
    values = history["val_loss"]
    best, stale, stop = values[0], 0, len(values)
    for index, value in enumerate(values[1:], start=1):
        best, stale = (value, 0) if value > best else (best, stale + 1)
        if stale >= 1:
            stop = index + 1
            break
    assert len(values) == stop


@pytest.mark.parametrize(("options", "message"), [
    ({"monitor": "val_accuracy"}, r"monitor='val_accuracy' is not a metric this run produces \(val_\* metrics need"),
    ({"monitor": "train_los"}, "did you mean 'train_loss'"),
    ({"mode": "best"}, "mode='best' must be 'min' or 'max'"),
    ({"save_top_k": -2}, "save_top_k must be >= -1"),
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"val_check_interval": 2}, "val_check_interval=2 needs a val_dataloader"),
    ({"checkpoint_every_n_steps": 1.5}, "checkpoint_every_n_steps must be an integer"),
    ({"keep_best_checkpoint": False, "save_top_k": 2}, "keep_best_checkpoint=False keeps no best checkpoint"),
])
def test_bad_step_and_monitor_arguments_are_named_before_anything_is_written(loaders, tmp_path, options, message):
    corpus, train, _ = loaders
    trainer = make_trainer(corpus)
    with pytest.raises((ValueError, TypeError), match=message):
        trainer.train(train, num_epochs=1, checkpoint_dir=tmp_path / "checkpoints", **options)
    assert trainer.global_step == 0 and list(tmp_path.iterdir()) == []


def test_a_fractional_val_check_interval_above_one_is_refused(loaders):
    corpus, train, val = loaders
    with pytest.raises(ValueError, match=r"val_check_interval=1.5: a float is a fraction of an epoch in \(0, 1\]"):
        make_trainer(corpus).train(train, val, num_epochs=1, val_check_interval=1.5)


def test_a_step_checkpoint_resumes_bitwise_identical(loaders, tmp_path):
    corpus, train, val = loaders
    options = {"num_epochs": 3, "val_check_interval": 3, "checkpoint_every_n_steps": 5, "monitor": "val_accuracy",
               "mode": "max", "save_top_k": 2}

    class CopyAtStepFive:
        @hookimpl
        def qembed_on_checkpoint(self, trainer, path):
            if trainer.global_step == 5 and path.endswith("last.pth"):
                shutil.copy(path, tmp_path / "step5.pth")

    full = make_trainer(corpus, log_every=2, plugins=[CopyAtStepFive()])
    expected = full.train(train, val, checkpoint_dir=tmp_path / "full", **options)
    state = torch.load(tmp_path / "step5.pth", weights_only=True)
    assert state["position"]["batches_done"] == 1 and state["epoch"] == 1  # mid-epoch: step 1 of epoch 1
    resumed = make_trainer(corpus, log_every=2)
    history = resumed.train(train, val, checkpoint_dir=tmp_path / "resumed", resume_from=tmp_path / "step5.pth",
                            **options)
    assert json.dumps(history) == json.dumps(expected)
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in full.model.state_dict().items())
    assert resumed.global_step == full.global_step == 12


def test_a_run_max_steps_stopped_mid_epoch_resumes_bitwise_identical(loaders, tmp_path):
    """max_steps=6 stops the second epoch (4 steps each) after 2 steps; last.pth keeps where,
    and resuming it with max_steps=8 finishes that epoch as a run never stopped would."""
    corpus = loaders[0]

    def train():  # a fresh loader per run: a loader's shuffle generator goes on from where the last run left it
        return corpus.loaders(batch_size=16, seed=0)[0]

    full = make_trainer(corpus, log_every=2)
    expected = full.train(train(), num_epochs=5, max_steps=8, checkpoint_dir=tmp_path / "full")
    stopped = make_trainer(corpus, log_every=2)
    stopped.train(train(), num_epochs=5, max_steps=6, checkpoint_dir=tmp_path / "stopped")
    assert stopped.epoch == 1 and torch.load(tmp_path / "stopped" / "last.pth",
                                              weights_only=True)["position"]["batches_done"] == 2
    resumed = make_trainer(corpus, log_every=2)
    history = resumed.train(train(), num_epochs=5, max_steps=8, checkpoint_dir=tmp_path / "resumed",
                            resume_from=tmp_path / "stopped" / "last.pth")
    assert history["epoch"] == [0, 1] and json.dumps(history) == json.dumps(expected)
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in full.model.state_dict().items())


def test_a_later_train_call_finishes_the_epoch_max_steps_stopped(loaders):
    corpus, train, _ = loaders
    trainer = make_trainer(corpus, log_every=2)
    trainer.train(train, num_epochs=5, max_steps=6)
    assert (trainer.epoch, trainer.global_step) == (1, 6)
    history = trainer.train(train, num_epochs=1)  # the rest of epoch 1: its 2 remaining steps
    assert (trainer.epoch, trainer.global_step) == (2, 8) and history["epoch"] == [0, 1]


scores = st.lists(st.floats(-10, 10, allow_nan=False), max_size=12)


@given(values=scores, top_k=st.integers(-1, 4), mode=st.sampled_from(["min", "max"]))
def test_the_kept_checkpoints_are_the_k_best_seen(values, top_k, mode):
    monitor = Monitor("val_loss", mode, 0.0, top_k)
    kept, files = [], set()
    for index, value in enumerate(values):
        score = monitor.score(value)
        if monitor.keeps(score, kept):
            files.add(index)
            files -= {int(name) for name in monitor.admit(score, str(index), kept)}
    ranked = sorted(range(len(values)), key=lambda i: monitor.score(values[i]))
    count = len(values) if top_k < 0 else top_k
    best_scores = sorted(monitor.score(values[i]) for i in ranked[:count])
    assert sorted(monitor.score(values[i]) for i in files) == best_scores
    assert files == {int(name) for _, name in kept}
