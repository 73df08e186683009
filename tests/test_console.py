"""What ``QuantumTrainer.train`` prints (the epoch table, the progress lines) and where a
new run writes (a fresh ``version_N`` folder inside a used ``log_dir``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.plugins.records import first_sentence
from qembed.training import QuantumTrainer
from qembed.training.console import HEADER, table_row
from qembed.training.run_folder import new_run_folder


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=64, num_val=32, num_test=8)


def trainer_for(corpus: PolysemyCorpus, **options) -> QuantumTrainer:
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    return QuantumTrainer(model, "adamw", "cross_entropy", {"log_every_n_steps": 2}, **options)


def test_train_prints_a_row_per_epoch_numbered_from_0_as_the_history(corpus, capsys):
    train, val, _ = corpus.loaders(batch_size=16)
    history = trainer_for(corpus, progress_bar=False).train(train, val, num_epochs=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0] == HEADER and "train_loss(epoch mean)" in HEADER
    rows = [line.split() for line in lines[1:]]
    assert [int(row[0]) for row in rows] == history["epoch"] == [0, 1]
    assert [float(row[1]) for row in rows] == pytest.approx(history["train_loss"], abs=1e-4)
    assert [float(row[3]) for row in rows] == pytest.approx(history["val_accuracy"], abs=1e-3)


def test_a_run_without_validation_shows_a_dash_and_epoch_table_false_prints_nothing(corpus, capsys):
    train, _, _ = corpus.loaders(batch_size=16)
    assert table_row({"epoch": 3, "train_loss": 0.5}).split()[:4] == ["3", "0.5000", "-", "-"]
    trainer_for(corpus, progress_bar=False, epoch_table=False).train(train, num_epochs=1)
    assert capsys.readouterr() == ("", "")


def test_off_a_terminal_each_epoch_writes_one_labelled_line_and_validation_none(corpus, capsys):
    train, val, _ = corpus.loaders(batch_size=16)
    trainer_for(corpus, epoch_table=False).train(train, val, num_epochs=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 0", "epoch 1"]
    assert all("4/4 batches" in line and "loss(2 steps)=" in line for line in lines)


def history_in(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text())


def test_a_new_run_in_a_used_log_dir_writes_a_version_folder_and_resume_stays(corpus, tmp_path, capsys):
    train, _, _ = corpus.loaders(batch_size=16)
    first = trainer_for(corpus, log_dir=tmp_path, progress_bar=False)
    first.train(train, num_epochs=1, checkpoint_dir=tmp_path / "checkpoints")
    first.train(train, num_epochs=1)  # the same run goes on in the same folder
    written, events = history_in(tmp_path), sorted(tmp_path.glob("events.out.tfevents.*"))
    assert first.log_dir == tmp_path and written["epoch"] == [0, 1]
    for version in (1, 2):
        again = trainer_for(corpus, log_dir=tmp_path, progress_bar=False)
        again.train(train, num_epochs=1)
        assert again.log_dir == tmp_path / f"version_{version}" and history_in(again.log_dir)["epoch"] == [0]
        assert len(list(again.log_dir.glob("events.out.tfevents.*"))) == 1
    assert history_in(tmp_path) == written and sorted(tmp_path.glob("events.out.tfevents.*")) == events
    resumed = trainer_for(corpus, log_dir=tmp_path, progress_bar=False)
    resumed.train(train, num_epochs=2, resume_from=tmp_path / "checkpoints" / "last.pth")
    assert resumed.log_dir == tmp_path and history_in(tmp_path)["epoch"] == [0, 1]


@settings(max_examples=30, deadline=None)
@given(versions=st.sets(st.integers(1, 30), max_size=5), others=st.sets(st.sampled_from(["a", "version_x", "v_3"])))
def test_a_used_folder_gets_the_version_after_its_highest(versions, others):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        assert new_run_folder(root / "missing") == root / "missing" and new_run_folder(root) == root
        for name in [*(f"version_{n}" for n in versions), *others]:
            (root / name).mkdir()
        expected = root if not versions and not others else root / f"version_{max(versions, default=0) + 1}"
        assert new_run_folder(root) == expected


@pytest.mark.parametrize(("doc", "summary"), [
    ("AdamW with parameters in an ``\"entanglement\"`` group at\n``entanglement_lr``. More text.",
     'AdamW with parameters in an "entanglement" group at entanglement_lr.'),
    ("Unit-wise clipping (Brock et al. 2021, NFNets).\n\nDetails.", "Unit-wise clipping (Brock et al. 2021, NFNets)."),
    ("Uses :class:`~torch.optim.AdamW` and *fast* `steps`! Then more.", "Uses torch.optim.AdamW and fast steps!"),
    ("", ""),
])
def test_a_plugin_summary_is_the_docstrings_first_sentence_as_plain_text(doc, summary):
    assert first_sentence(doc) == summary


def test_a_first_call_that_fails_and_is_retried_stays_in_its_version_folder(corpus, tmp_path):
    """A failed first train() (no optimizer step) already chose log_dir/version_1; the retry
    writes there, never into version_1/version_1."""
    (tmp_path / "notes.txt").write_text("an earlier run's")
    calls = []

    def flaky(logits, labels):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first batch fails")
        return torch.nn.functional.cross_entropy(logits, labels)

    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    trainer = QuantumTrainer(model, "adamw", flaky, {"log_every_n_steps": 2}, log_dir=tmp_path)
    train, _, _ = corpus.loaders(batch_size=16)
    with pytest.raises(RuntimeError, match="first batch fails"):
        trainer.train(train, num_epochs=1)
    trainer.train(train, num_epochs=1)
    assert trainer.log_dir == tmp_path / "version_1" and not (tmp_path / "version_1" / "version_1").exists()
    assert (tmp_path / "version_1" / "history.json").is_file()


def test_a_schedule_by_name_continues_on_a_second_train_call(corpus):
    trainer = trainer_for(corpus, lr_scheduler={"name": "warmup_cosine", "warmup_steps": 2})
    train, _, _ = corpus.loaders(batch_size=16)
    trainer.train(train, num_epochs=1)
    scheduler, steps = trainer.lr_scheduler, trainer.global_step
    trainer.train(train, num_epochs=1)
    assert trainer.lr_scheduler is scheduler and scheduler.last_epoch == trainer.global_step == 2 * steps


def test_a_run_resumed_with_the_base_log_dir_goes_on_in_its_version_folder(corpus, tmp_path):
    """Run A writes logs/, run B logs/version_1; resuming B from a new trainer given
    log_dir=logs continues in logs/version_1 and leaves A's files alone."""
    train, val, _ = corpus.loaders(batch_size=16)
    logs = tmp_path / "logs"
    trainer_for(corpus, log_dir=logs).train(train, val, num_epochs=1)
    first_history = (logs / "history.json").read_text()
    second = trainer_for(corpus, log_dir=logs)
    second.train(train, val, num_epochs=1, checkpoint_dir=tmp_path / "ck")
    assert second.log_dir == logs / "version_1"
    resumed = trainer_for(corpus, log_dir=logs)
    resumed.train(train, val, num_epochs=2, checkpoint_dir=tmp_path / "ck", resume_from=tmp_path / "ck" / "last.pth")
    assert resumed.log_dir == logs / "version_1"
    assert (logs / "history.json").read_text() == first_history  # run A's files untouched
    assert len(json.loads((logs / "version_1" / "history.json").read_text())["epoch"]) == 2
    assert len(list(logs.glob("events.out.tfevents.*"))) == 1
