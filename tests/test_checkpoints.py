"""Checkpoints a user can trust: atomic, safe to load, exactly resumable."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.checkpoint import VERSION
from tests.conftest import REPO_ROOT

JOB = REPO_ROOT / "tests" / "resume_job.py"


def job(mode: str, out: Path, *, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(JOB), mode, str(out)], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def small(tmp_path):
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=16, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    trainer = QuantumTrainer(model, "adamw", "quantum", {"quantum_memory_replay": True}, progress_bar=False)
    return trainer, train, val, corpus


@pytest.mark.slow
def test_a_run_killed_after_a_checkpoint_resumes_bitwise_identical(tmp_path):
    full, interrupted = tmp_path / "full", tmp_path / "interrupted"
    job("full", full)
    killed = job("killed", interrupted, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not (interrupted / "final_weights.pth").exists()
    job("resume", interrupted)

    expected = torch.load(full / "final_weights.pth", weights_only=True)
    resumed = torch.load(interrupted / "final_weights.pth", weights_only=True)
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)
    assert json.loads((full / "final_history.json").read_text()) == json.loads(
        (interrupted / "final_history.json").read_text())

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(interrupted / "logs"))
    accumulator.Reload()
    steps = [event.step for event in accumulator.Scalars("train/loss")]
    assert steps == sorted(set(steps)) == list(range(2, 25, 2))  # no duplicate, missing or backwards points


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_torn_file(tmp_path):
    rng = random.Random(1234)
    out = tmp_path / "run"
    best, last = out / "best_model.pth", out / "checkpoints" / "last.pth"
    for attempt in range(5):
        process = subprocess.Popen([sys.executable, str(JOB), "best-forever", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (best.exists() and last.exists()) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))  # somewhere inside later saves
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        corpus = PolysemyCorpus(seed=0, num_train=8, num_val=1, num_test=1)
        model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2,
                                  num_layers=1, max_length=32)
        trainer = QuantumTrainer(model, "adamw", "quantum", progress_bar=False)
        trainer.load_model(best)  # a complete file every time
        state = torch.load(last, weights_only=True)
        assert state["format"] == "qembed-training-checkpoint", attempt


def test_a_checkpoint_holds_everything_as_safe_types(small, tmp_path):
    trainer, train, _, _ = small
    trainer.train(train, num_epochs=1, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pth", weights_only=True)
    assert state["version"] == VERSION
    assert {"model_state", "optimizer_state", "scaler_state", "replay_state", "epoch", "global_step", "run",
            "history", "config", "rng"} <= set(state)
    assert state["run"]["num_epochs"] == 1 and state["epoch"] == 1
    assert state["config"]["quantum_memory_replay"] is True
    assert len(state["replay_state"]["examples"]) > 0
    loss = trainer.training_history["train_loss"][0]
    assert [p.name for p in tmp_path.glob("epoch=*")] == [f"epoch=0-step=4-train_loss={loss:.4f}.pth"]


def test_resume_counts_epochs_from_the_runs_start(small, tmp_path):
    trainer, train, _, corpus = small
    trainer.train(train, num_epochs=2, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    resumed = QuantumTrainer(model, "adamw", "quantum", {"quantum_memory_replay": True}, progress_bar=False)
    history = resumed.train(train, num_epochs=3, resume_from=tmp_path / "last.pth")
    assert resumed.epoch == 3 and len(history["train_loss"]) == 3 and history["epoch"] == [0, 1, 2]


def test_code_in_a_file_never_runs(small, tmp_path):
    trainer = small[0]
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"model_state": Payload()}, protocol=2))
    with pytest.raises(ValueError, match="not a checkpoint qembed can load safely"):
        trainer.load_model(evil)
    with pytest.raises(ValueError, match="not a checkpoint qembed can load safely"):
        trainer.train(small[1], num_epochs=1, resume_from=evil)
    assert not marker.exists()


def test_loading_a_different_model_names_the_parameters(small, tmp_path):
    trainer, _, _, corpus = small
    other = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=32)
    torch.save(other.state_dict(), tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"does not fit this model; different shapes: encoder.blocks.0.linear1.bias "
                                         r"\(128,\) in the file vs \(64,\) in the model, .* \(and \d+ more\)"):
        trainer.load_model(tmp_path / "other.pth")
    torch.save(trainer.model.state_dict(), tmp_path / "bare.pth")
    trainer.load_model(tmp_path / "bare.pth")  # a bare state_dict loads


def test_resume_from_a_missing_foreign_or_newer_file_is_named(small, tmp_path):
    trainer, train, _, _ = small
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        trainer.train(train, num_epochs=1, resume_from=tmp_path / "nope.pth")
    trainer.save_model(tmp_path / "model.pth")
    with pytest.raises(ValueError, match="is not a qembed training checkpoint"):
        trainer.train(train, num_epochs=1, resume_from=tmp_path / "model.pth")
    trainer.save_checkpoint(tmp_path / "future.pth")
    state = torch.load(tmp_path / "future.pth", weights_only=True)
    state["version"] = VERSION + 1
    torch.save(state, tmp_path / "future.pth")
    with pytest.raises(ValueError, match=f"version {VERSION + 1} checkpoint; this qembed reads versions up to"):
        trainer.train(train, num_epochs=1, resume_from=tmp_path / "future.pth")


def test_ctrl_c_writes_interrupted_pth_closes_the_writer_and_reraises(small, tmp_path):
    from qembed.training import logger_relay
    from qembed_plugins.tensorboard import TensorBoardLogger

    trainer, train, _, _ = small

    class CtrlC:
        @hookimpl
        def qembed_on_log(self, trainer, step, metrics):
            raise KeyboardInterrupt

    trainer.log_dir = tmp_path / "logs"
    logger = TensorBoardLogger(trainer.log_dir)
    trainer.loggers = [logger]
    trainer._lifecycle = type(trainer._lifecycle)(trainer.registry.with_plugins([CtrlC(), logger_relay]))
    trainer.config.log_every_n_steps = 2
    with pytest.raises(KeyboardInterrupt):
        trainer.train(train, num_epochs=2, checkpoint_dir=tmp_path / "checkpoints")
    assert torch.load(tmp_path / "checkpoints" / "interrupted.pth", weights_only=True)["global_step"] == 2
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))  # the writer was opened...
    assert logger.writer is None  # ...and closed


def test_restore_best_weights_ends_with_the_best_epochs_weights(small, tmp_path):
    trainer, train, val, _ = small
    seen = {}

    class Snapshot:
        @hookimpl
        def qembed_on_validation_end(self, trainer, epoch, metrics):
            seen[epoch] = (metrics["loss"], {k: v.clone() for k, v in trainer.model.state_dict().items()})

    trainer._lifecycle = type(trainer._lifecycle)(trainer.registry.with_plugins([Snapshot()]))
    trainer.train(train, val, num_epochs=4, restore_best_weights=True)
    best_epoch = min(seen, key=lambda e: seen[e][0])
    assert all(torch.equal(v, seen[best_epoch][1][k]) for k, v in trainer.model.state_dict().items())


def same_run(expected: Path, resumed: Path) -> bool:
    """Whether two job folders hold bitwise the same final weights and history."""
    first = torch.load(expected / "final_weights.pth", weights_only=True)
    second = torch.load(resumed / "final_weights.pth", weights_only=True)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first) and (
        json.loads((expected / "final_history.json").read_text())
        == json.loads((resumed / "final_history.json").read_text()))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    job("full", out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["SIGINT@4", "SIGTERM@4", "SIGTERM@16"])  # 6 steps per epoch: epochs 1, 1, 3
def test_a_signal_mid_epoch_finishes_the_step_and_the_resumed_run_is_bitwise_identical(spec, uninterrupted,
                                                                                        tmp_path):
    stopped = job(spec, tmp_path, check=False)
    assert stopped.returncode != 0 and f"training stopped by {spec.split('@')[0]}" in stopped.stderr
    assert not (tmp_path / "final_weights.pth").exists()
    state = torch.load(tmp_path / "checkpoints" / "interrupted.pth", weights_only=True)
    step = int(spec.split("@")[1])
    assert state["global_step"] == step and state["epoch"] == (step - 1) // 6
    assert state["position"]["batches_done"] == step - 6 * state["epoch"]
    job("resume=interrupted.pth", tmp_path)  # trainer.train(resume_from=...)
    assert same_run(uninterrupted, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["last.pth", "best"])
def test_resume_from_last_or_best_after_a_sigterm_completes_every_epoch(name, tmp_path):
    job("SIGTERM@16", tmp_path, check=False)
    file = next((tmp_path / "checkpoints").glob("epoch=*")) if name == "best" else tmp_path / "checkpoints" / name
    assert torch.load(file, weights_only=True)["position"] is None
    job(f"resume={name}", tmp_path)
    history = json.loads((tmp_path / "final_history.json").read_text())
    assert history["epoch"] == [0, 1, 2, 3]


def test_signal_handlers_are_restored_after_train(small):
    trainer, train, _, _ = small
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    trainer.train(train, num_epochs=1)
    assert {signum: signal.getsignal(signum) for signum in before} == before
