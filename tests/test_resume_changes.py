"""Resuming with a changed setup: what cannot carry over is refused before anything changes,
what can takes effect and is reported by name (docs/checkpoints.md)."""

from __future__ import annotations

import pytest
import torch

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.config_change import ResumeChangeWarning


def build(config: dict, lr: float = 1e-3):
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=48, num_val=16, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16, seed=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    return QuantumTrainer(model, {"name": "adamw", "lr": lr}, "cross_entropy", config, progress_bar=False), train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    trainer, train = build({"quantum_memory_replay": True, "superposition_schedule": "linear"})
    trainer.train(train, num_epochs=1, checkpoint_dir=folder)
    return folder / "last.pth"


def test_another_replay_strategy_is_refused_in_one_line_naming_both(checkpoint):
    trainer, train = build({"quantum_memory_replay": {"name": "class_balanced", "capacity": 64}})
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(ValueError, match=r"quantum_memory_replay is 'reservoir' in the checkpoint and "
                                         r"'class_balanced' now: a replay buffer does not carry over"):
        trainer.train(train, num_epochs=2, resume_from=checkpoint)
    assert trainer.epoch == 0 and all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_a_new_learning_rate_and_schedule_apply_and_are_named(checkpoint):
    trainer, train = build({"quantum_memory_replay": True, "superposition_schedule": "cyclic"}, lr=5e-4)
    with pytest.warns(ResumeChangeWarning) as caught:
        trainer.train(train, num_epochs=2, resume_from=checkpoint)
    messages = " | ".join(str(w.message) for w in caught)
    assert "superposition_schedule 'linear' -> 'cyclic'" in messages
    assert "group 0 0.001 -> 0.0005" in messages
    assert trainer.optimizer.param_groups[0]["lr"] == 5e-4 and trainer.epoch == 2


def test_an_unchanged_resume_reports_nothing(checkpoint, recwarn):
    trainer, train = build({"quantum_memory_replay": True, "superposition_schedule": "linear"})
    trainer.train(train, num_epochs=2, resume_from=checkpoint)
    assert not [w for w in recwarn if issubclass(w.category, ResumeChangeWarning)]
