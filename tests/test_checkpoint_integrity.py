"""Checkpoints that cannot be silently wrong: a checksum verified on load, non-finite
weights refused, a refused resume that changes nothing, one writer per run folder and
a history file written like a checkpoint."""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.plugins import PluginHookError
from qembed.training import QuantumTrainer
from qembed.training.checkpoint_io import CheckpointIntegrityError, TRAILER_BYTES, atomic_save, safe_load
from qembed.training.run_lock import LOCK_NAME, RunFolderInUseError
from tests.conftest import REPO_ROOT


def build(optimizer: str = "adamw", batch_size: int = 16, log_dir: Path | None = None, plugins=()):
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=16, num_test=4)
    train, val, _ = corpus.loaders(batch_size=batch_size, seed=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    trainer = QuantumTrainer(model, optimizer, "quantum", {"quantum_memory_replay": True}, log_dir=log_dir,
                             plugins=plugins, progress_bar=False)
    return trainer, train, val


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """A real checkpoint folder: 2 epochs, replay on."""
    folder = tmp_path_factory.mktemp("run")
    trainer, train, val = build()
    trainer.train(train, val, num_epochs=2, checkpoint_dir=folder)
    return folder


def same(a: Any, b: Any) -> bool:
    """Bitwise equality of nested checkpoint structures."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and bool(
            torch.equal(a.view(torch.uint8) if a.dtype == torch.uint8 else a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return type(a) is type(b) and a == b


def snapshot(trainer: QuantumTrainer) -> dict[str, Any]:
    return copy.deepcopy({"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
                          "scaler": trainer.scaler.state_dict(), "replay": trainer.replay.state_dict(),
                          "epoch": trainer.epoch, "global_step": trainer.global_step,
                          "history": dict(trainer.training_history)})


# --- the checksum ------------------------------------------------------------------


def test_a_checkpoint_carries_a_checksum_trailer_and_still_loads_with_torch_load(saved_run):
    data = (saved_run / "last.pth").read_bytes()
    assert data[-TRAILER_BYTES:].startswith(b"QEMBED-SHA256")
    assert same(torch.load(saved_run / "last.pth", weights_only=True), safe_load(saved_run / "last.pth"))


def test_every_single_bit_flip_is_refused_or_loads_the_same_state(saved_run, tmp_path):
    original = (saved_run / "last.pth").read_bytes()
    expected = safe_load(saved_run / "last.pth")
    rng = random.Random(12)
    positions = [rng.randrange(len(original)) for _ in range(100)]
    positions += [len(original) - TRAILER_BYTES + rng.randrange(TRAILER_BYTES) for _ in range(30)]
    flipped = tmp_path / "flipped.pth"
    refused = 0
    for position in positions:
        data = bytearray(original)
        data[position] ^= 1 << rng.randrange(8)
        flipped.write_bytes(bytes(data))
        try:
            state = safe_load(flipped)
        except ValueError as err:
            assert str(flipped) in str(err), err
            refused += 1
            continue
        assert same(state, expected), f"a flip at byte {position} loaded a different state"
    assert refused == len(positions)  # every byte of a checksummed file matters


@pytest.mark.parametrize("keep", [0, 10, 1000, -TRAILER_BYTES - 1, -TRAILER_BYTES + 1, -20, -1])
def test_a_truncated_checkpoint_is_refused_naming_the_file(saved_run, tmp_path, keep):
    data = (saved_run / "last.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match="cut.pth"):
        safe_load(cut)


def test_a_file_cut_exactly_before_its_trailer_is_an_unchecked_file_with_the_same_state(saved_run, tmp_path):
    data = (saved_run / "last.pth").read_bytes()
    (tmp_path / "bare.pth").write_bytes(data[:-TRAILER_BYTES])  # indistinguishable from a file without checksum
    assert same(safe_load(tmp_path / "bare.pth"), safe_load(saved_run / "last.pth"))


def test_a_file_longer_than_written_is_refused(saved_run, tmp_path):
    data = (saved_run / "last.pth").read_bytes()
    longer = tmp_path / "longer.pth"
    longer.write_bytes(data[:-TRAILER_BYTES] + b"x" + data[-TRAILER_BYTES:])
    with pytest.raises(CheckpointIntegrityError, match="longer than written"):
        safe_load(longer)


def test_a_payload_flip_names_the_checksum(saved_run, tmp_path):
    data = bytearray((saved_run / "last.pth").read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "bad.pth").write_bytes(bytes(data))
    with pytest.raises(CheckpointIntegrityError, match=r"bad\.pth.*sha256"):
        safe_load(tmp_path / "bad.pth")


def test_files_written_before_checksums_still_load_and_resume(saved_run, tmp_path):
    state = torch.load(saved_run / "last.pth", weights_only=True)
    torch.save(state, tmp_path / "old.pth")  # the format before this change: no trailer
    assert same(safe_load(tmp_path / "old.pth"), state)
    trainer, train, val = build()
    trainer.train(train, val, num_epochs=3, resume_from=tmp_path / "old.pth")
    assert trainer.epoch == 3


def test_the_model_file_is_checksummed_too(tmp_path):
    trainer, train, _ = build()
    trainer.train(train, num_epochs=1, save_best_model=True, model_save_path=tmp_path / "best_model.pth")
    data = bytearray((tmp_path / "best_model.pth").read_bytes())
    data[len(data) // 3] ^= 0x01
    (tmp_path / "bad_model.pth").write_bytes(bytes(data))
    with pytest.raises(CheckpointIntegrityError, match="bad_model.pth"):
        trainer.load_model(tmp_path / "bad_model.pth")


# --- refused before anything changes -------------------------------------------------


def poisoned(saved_run: Path, tmp_path: Path, where: str) -> Path:
    """A copy of last.pth, correctly checksummed, with one NaN in ``where``."""
    state = torch.load(saved_run / "last.pth", weights_only=True)
    if where == "model":
        name = next(k for k, v in state["model_state"].items() if v.is_floating_point())
        state["model_state"][name].view(-1)[0] = float("nan")
    else:
        param_state = next(iter(state["optimizer_state"]["state"].values()))
        param_state["exp_avg"].view(-1)[0] = float("inf")
    return atomic_save(state, tmp_path / f"nan_{where}.pth")


def trained_one_epoch(**kwargs):
    trainer, train, val = build(**kwargs)
    trainer.train(train, val, num_epochs=1)
    return trainer, train, val


@pytest.mark.parametrize("where,named", [("model", r"model_state\.\S+"),
                                         ("optimizer", r"optimizer_state\.state\[\d+\]\.exp_avg")])
def test_non_finite_weights_are_refused_naming_the_tensor_and_nothing_changes(saved_run, tmp_path, where, named):
    path = poisoned(saved_run, tmp_path, where)
    trainer, train, val = trained_one_epoch()
    before = snapshot(trainer)
    with pytest.raises(ValueError, match=rf"nan_{where}\.pth.*non-finite.*{named}"):
        trainer.train(train, val, num_epochs=3, resume_from=path)
    assert same(snapshot(trainer), before)


def test_a_refused_resume_leaves_the_trainer_as_it_was_and_train_goes_on_from_there(saved_run):
    _, other_batches, _ = build(batch_size=8)
    trainer, train, val = trained_one_epoch()
    before = snapshot(trainer)
    with pytest.raises(ValueError, match="optimizer steps per epoch"):
        trainer.train(other_batches, val, num_epochs=3, resume_from=saved_run / "last.pth")
    assert same(snapshot(trainer), before)
    trainer.train(train, val, num_epochs=1)  # its own run, not the refused checkpoint's
    never_refused, train, val = trained_one_epoch()
    never_refused.train(train, val, num_epochs=1)
    assert trainer.epoch == 2
    assert same(dict(trainer.training_history), dict(never_refused.training_history))


def test_another_optimizers_state_is_refused_naming_it_before_anything_changes(saved_run):
    trainer, train, val = trained_one_epoch(optimizer="sgd")
    before = snapshot(trainer)
    with pytest.raises(ValueError, match=r"last\.pth' was trained with optimizer [\w.]+, this trainer has "
                                         r"torch\.optim\.sgd\.SGD: optimizer state does not carry over"):
        trainer.train(train, val, num_epochs=3, resume_from=saved_run / "last.pth")
    assert same(snapshot(trainer), before)
    state = torch.load(saved_run / "last.pth", weights_only=True)
    del state["optimizer_class"]  # a checkpoint written before the class was recorded: its settings tell
    atomic_save(state, saved_run / "older.pth")
    with pytest.raises(ValueError, match=r"older\.pth.*not a SGD's: it lacks SGD's .*momentum"):
        trainer.train(train, val, num_epochs=3, resume_from=saved_run / "older.pth")
    assert same(snapshot(trainer), before)


# --- one writer per folder -----------------------------------------------------------


def test_a_second_trainer_writing_the_same_folder_is_refused(tmp_path):
    refusals: list[str] = []
    second, train2, _ = build()

    class WriteTheSameFolder:
        @hookimpl
        def qembed_on_epoch_end(self, trainer, epoch):
            with pytest.raises(RunFolderInUseError) as caught:
                second.train(train2, num_epochs=1, checkpoint_dir=tmp_path / "ckpt")
            refusals.append(str(caught.value))

    first, train, _ = build(plugins=[WriteTheSameFolder()])
    first.train(train, num_epochs=1, checkpoint_dir=tmp_path / "ckpt")
    assert refusals and str(tmp_path / "ckpt") in refusals[0] and f"pid {os.getpid()}" in refusals[0]
    assert second.epoch == 0
    assert not (tmp_path / "ckpt" / LOCK_NAME).exists()  # released when train() returned
    second.train(train2, num_epochs=1, checkpoint_dir=tmp_path / "ckpt")  # free again


def test_the_lock_is_released_when_train_raises_and_a_dead_holders_file_is_no_lock(tmp_path):
    class Fail:
        @hookimpl
        def qembed_on_epoch_end(self, trainer, epoch):
            raise RuntimeError("boom")

    trainer, train, _ = build(plugins=[Fail()])
    with pytest.raises(PluginHookError, match="raised RuntimeError: boom"):
        trainer.train(train, num_epochs=1, checkpoint_dir=tmp_path)
    (tmp_path / LOCK_NAME).write_text("999999999\n")  # left by a killed process: the kernel dropped its flock
    trainer, train, _ = build()
    trainer.train(train, num_epochs=1, checkpoint_dir=tmp_path)
    assert trainer.epoch == 1


HOLDER = """
import sys
from qembed import hookimpl
from tests.test_checkpoint_integrity import build

class Hold:
    @hookimpl
    def qembed_on_epoch_end(self, trainer, epoch):
        print("holding", flush=True)
        sys.stdin.readline()  # until the test says go

trainer, train, _ = build(plugins=[Hold()] if sys.argv[2] == "hold" else [])
try:
    trainer.train(train, num_epochs=1, checkpoint_dir=sys.argv[1])
except OSError as err:
    print(err, file=sys.stderr)
    sys.exit(3)
"""


def test_two_processes_writing_one_run_folder_the_second_is_refused(tmp_path):
    folder = tmp_path / "checkpoints"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), "hold"], cwd=REPO_ROOT, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = (line.strip() for line in iter(first.stdout.readline, ""))  # the epoch table comes first
        assert "holding" in printed, "the first process ended before its first epoch's end"
        second = subprocess.run([sys.executable, "-c", HOLDER, str(folder), "go"], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 3, second.stderr
        assert str(folder) in second.stderr and f"pid {first.pid}" in second.stderr
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        first.kill()
        first.wait()
    assert (folder / "last.pth").is_file() and not (folder / LOCK_NAME).exists()


# --- history.json ----------------------------------------------------------------------


def test_history_is_written_atomically_and_a_planted_symlink_is_not_followed(tmp_path):
    logs, victim = tmp_path / "logs", tmp_path / "victim.txt"
    victim.write_text("untouched")
    trainer, train, _ = build(log_dir=logs)
    trainer.train(train, num_epochs=1)
    (logs / ".history.json.tmp").symlink_to(victim)  # the fixed temp name history used to go through
    trainer.train(train, num_epochs=1)  # the run goes on in its folder and rewrites history.json
    assert trainer.log_dir == logs and victim.read_text() == "untouched"
    history = logs / "history.json"
    assert not history.is_symlink() and len(json.loads(history.read_text())["epoch"]) == 2
    assert not [p for p in logs.iterdir() if p.name.startswith(".history.json.") and p.suffix == ".tmp"
                and not p.is_symlink()]


def test_qembed_train_resume_of_a_run_that_still_trains_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from qembed.cli import main
    from qembed.training import run_lock
    from tests.test_train_command import TINY

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    assert main(["train", "tiny.toml", "--set", "training.epochs=1"]) == 0
    run = tmp_path / "runs" / "tiny"
    last, config = (run / "checkpoints" / "last.pth").read_bytes(), (run / "config.yaml").read_text()
    capsys.readouterr()
    with run_lock.locked([run]):  # as a run still training there holds it
        assert main(["train", "tiny.toml", "--resume", "runs/tiny", "--set", "training.epochs=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs/tiny" in err and f"pid {os.getpid()}" in err and "in use" in err
    assert (run / "checkpoints" / "last.pth").read_bytes() == last and (run / "config.yaml").read_text() == config
    assert main(["train", "tiny.toml", "--resume", "runs/tiny", "--set", "training.epochs=2"]) == 0


# --- a full disk ----------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path):
    """A real tmpfs of a given size (root only: where the machine cannot mount one, the test is skipped)."""
    mounted = []

    def mount(size: int) -> Path:
        folder = tmp_path / f"fs{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_is_named_and_the_previous_checkpoint_survives(small_filesystem, tmp_path):
    trainer, train, val = build()
    trainer.train(train, val, num_epochs=1, checkpoint_dir=tmp_path / "sizing", keep_best_checkpoint=False)
    size = (tmp_path / "sizing" / "last.pth").stat().st_size
    folder = small_filesystem(int(size * 1.5) // 4096 * 4096 + 4096)  # room for one checkpoint, not two
    trainer, train, val = build()
    with pytest.raises(OSError, match=r"disk full: cannot write .*last\.pth \(the file that was there, if any, "
                                      r"is kept\)"):
        trainer.train(train, val, num_epochs=2, checkpoint_dir=folder, keep_best_checkpoint=False)
    kept = safe_load(folder / "last.pth")  # epoch 1's, whole: its checksum verifies
    assert kept["epoch"] == 1 and not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
