"""``QuantumTrainer.test`` and a trainer built with ``optimizer=None``: test() is validate()'s
loop with its numbers, reaching real CSV and TensorBoard files under ``test/`` and no
validation hook; a trainer without an optimizer evaluates but refuses to train before
anything is written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import ConfigError, QuantumTrainer

NO_OPTIMIZER = r"no optimizer: this QuantumTrainer was built with optimizer=None"


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=32, num_val=12, num_test=20)


def tiny_model(corpus: PolysemyCorpus) -> QuantumClassifier:
    torch.manual_seed(0)
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=1, num_layers=1,
                             max_length=32)


class ValidationRecorder:
    def __init__(self) -> None:
        self.validations: list[dict[str, float]] = []

    @hookimpl
    def qembed_on_validation_end(self, trainer, epoch, metrics):
        self.validations.append(dict(metrics))


def csv_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open(newline="") as metrics_file:
        return list(csv.DictReader(metrics_file))


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_test_gives_validates_numbers_and_calls_no_validation_hook(corpus):
    _, _, test = corpus.loaders(batch_size=8)
    recorder = ValidationRecorder()
    trainer = QuantumTrainer(tiny_model(corpus), "adamw", "quantum", {"uncertainty_samples": 4},
                             progress_bar=False, epoch_table=False, plugins=[recorder])
    tested = trainer.test(test)
    assert recorder.validations == []
    assert tested == trainer.validate(test)  # the same loop, the same collapse samples: equal, not close
    assert {"loss", "accuracy", "ece", "nll", "brier", "uncertainty", "mutual_information",
            "uncertainty_auroc"} <= tested.keys()
    assert recorder.validations == [tested]


@pytest.mark.parametrize("method", ["test", "predict"])
def test_test_and_predict_leave_the_global_random_stream_alone(corpus, method):
    """A plain DataLoader's iterator draws its base seed from the global generator: evaluating
    or predicting between training steps must not shift what training draws next."""
    loader = torch.utils.data.DataLoader(corpus.test, batch_size=8, collate_fn=corpus.loaders()[2].collate_fn)
    trainer = QuantumTrainer(tiny_model(corpus), "adamw", "quantum", progress_bar=False, epoch_table=False)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    getattr(trainer, method)(loader)
    assert torch.equal(torch.rand(1), expected)


def test_test_metrics_reach_csv_and_tensorboard_under_test_after_training(corpus, tmp_path):
    train, val, test = corpus.loaders(batch_size=8)
    trainer = QuantumTrainer(tiny_model(corpus), "adamw", "quantum", {"log_every_n_steps": 1},
                             log_dir=tmp_path / "run", loggers=["csv", "tensorboard"], progress_bar=False,
                             epoch_table=False)
    trainer.train(train, val, num_epochs=1)
    metrics = trainer.test(test)
    step = trainer.global_step

    rows = csv_rows(tmp_path / "run")
    assert [row["section"] for row in rows].count("epoch") == 1  # the run's rows stay
    (tested,) = [row for row in rows if row["section"] == "test"]
    assert int(tested["step"]) == step
    for name, value in metrics.items():
        assert float(tested[f"test/{name}"]) == pytest.approx(value, nan_ok=True)
    assert not any(row["section"] == "val" and row["test/loss"] for row in rows)

    scalars = tensorboard_scalars(tmp_path / "run")
    for name, value in metrics.items():
        assert scalars[f"test/{name}"] == [(step, pytest.approx(value, nan_ok=True))]
    assert "val/loss" in scalars and "epoch/train_loss" in scalars


def test_an_evaluation_trainer_tests_into_a_new_version_folder_beside_an_earlier_run(corpus, tmp_path):
    train, _, test = corpus.loaders(batch_size=8)
    QuantumTrainer(tiny_model(corpus), "adamw", "quantum", {"log_every_n_steps": 1}, log_dir=tmp_path / "run",
                   loggers=["csv"], progress_bar=False, epoch_table=False).train(train, num_epochs=1)
    earlier = (tmp_path / "run" / "metrics.csv").read_text()

    evaluator = QuantumTrainer(tiny_model(corpus), None, "quantum", log_dir=tmp_path / "run", loggers=["csv"],
                               progress_bar=False, epoch_table=False)
    metrics = evaluator.test(test)
    assert evaluator.log_dir == tmp_path / "run" / "version_1"
    assert (tmp_path / "run" / "metrics.csv").read_text() == earlier
    (row,) = csv_rows(evaluator.log_dir)
    assert (row["section"], row["step"]) == ("test", "0")
    assert float(row["test/accuracy"]) == pytest.approx(metrics["accuracy"])


def test_a_trainer_without_an_optimizer_evaluates_and_refuses_to_train_before_writing(corpus, tmp_path):
    train, val, test = corpus.loaders(batch_size=8)
    log_dir, checkpoints = tmp_path / "run", tmp_path / "checkpoints"
    trainer = QuantumTrainer(tiny_model(corpus), None, "quantum", log_dir=log_dir, loggers=["csv", "tensorboard"],
                             progress_bar=False, epoch_table=False)
    assert trainer.optimizer is None
    assert not any(key.startswith("optimizer/") for key in trainer.hyperparameters)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for attempt in (lambda: trainer.train(train, val, num_epochs=1, checkpoint_dir=checkpoints),
                    lambda: trainer.train(train, resume_from=tmp_path / "missing.pth"),
                    lambda: trainer.train_epoch(train),
                    lambda: trainer.save_checkpoint(checkpoints / "last.pth")):
        with pytest.raises(ConfigError, match=NO_OPTIMIZER):
            attempt()
    assert not log_dir.exists() and not checkpoints.exists()
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert trainer.validate(val)["accuracy"] >= 0
    assert trainer.predict(test).probabilities.shape == (len(corpus.test), corpus.num_labels)
    with pytest.raises(ConfigError, match="train_epoch\\(\\) needs one"):
        trainer.train_epoch(train)


def test_an_lr_scheduler_without_an_optimizer_is_refused_when_built(corpus):
    with pytest.raises(ConfigError, match="lr_scheduler='cosine' schedules an optimizer, but optimizer is None"):
        QuantumTrainer(tiny_model(corpus), None, lr_scheduler="cosine")
