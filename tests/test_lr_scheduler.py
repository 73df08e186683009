"""The trainer's LR scheduler and train()'s defaults: stepped once per optimizer step,
saved with the run, and the arguments train() takes from ``run_defaults``."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LambdaLR, StepLR

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.run_defaults import RunDefaults


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=48, num_val=16, num_test=4)


def model_for(corpus: PolysemyCorpus) -> QuantumClassifier:
    torch.manual_seed(0)
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=2, num_layers=0,
                             max_length=32)


def halving(optimizer: torch.optim.Optimizer) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: 0.5**step)


@settings(max_examples=5)
@given(accumulate=st.integers(1, 3), epochs=st.integers(1, 2))
def test_the_scheduler_steps_once_per_optimizer_step(corpus, accumulate, epochs):
    train, _, _ = corpus.loaders(batch_size=8)  # 6 batches
    trainer = QuantumTrainer(model_for(corpus), {"name": "adamw", "lr": 1.0}, "cross_entropy",
                             {"gradient_accumulation_steps": accumulate}, lr_scheduler=halving, progress_bar=False)
    history = trainer.train(train, num_epochs=epochs)
    steps = -(-6 // accumulate) * epochs
    assert trainer.global_step == steps
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.5**steps)
    assert history["lr"][-1] == pytest.approx(0.5**steps)


def test_a_scheduler_over_another_optimizer_or_not_a_scheduler_is_refused(corpus):
    model = model_for(corpus)
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different optimizer"):
        QuantumTrainer(model, "adamw", lr_scheduler=StepLR(other, 1), progress_bar=False)
    with pytest.raises(ValueError, match="lr_scheduler: unknown LR scheduler 'cosine' .did you mean 'warmup_cosine'"):
        QuantumTrainer(model, "adamw", lr_scheduler="cosine", progress_bar=False)
    with pytest.raises(TypeError, match="lr_scheduler must be a registered name, a .* spec, a torch LRScheduler"):
        QuantumTrainer(model, "adamw", lr_scheduler=3, progress_bar=False)
    with pytest.raises(TypeError, match="returned a dict"):
        QuantumTrainer(model, "adamw", lr_scheduler=lambda optimizer: {}, progress_bar=False)


def test_resume_continues_the_schedule_where_it_stopped(corpus, tmp_path):
    train, _, _ = corpus.loaders(batch_size=8)
    straight = QuantumTrainer(model_for(corpus), {"name": "adamw", "lr": 1.0}, "cross_entropy",
                              lr_scheduler=halving, progress_bar=False)
    straight.train(train, num_epochs=3)
    first = QuantumTrainer(model_for(corpus), {"name": "adamw", "lr": 1.0}, "cross_entropy",
                           lr_scheduler=halving, progress_bar=False)
    first.train(train, num_epochs=2, checkpoint_dir=tmp_path)
    resumed = QuantumTrainer(model_for(corpus), {"name": "adamw", "lr": 1.0}, "cross_entropy",
                             lr_scheduler=halving, progress_bar=False)
    resumed.train(train, num_epochs=3, resume_from=tmp_path / "last.pth")
    assert resumed.lr_scheduler.last_epoch == straight.lr_scheduler.last_epoch == 18
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]

    without = QuantumTrainer(model_for(corpus), {"name": "adamw", "lr": 1.0}, "cross_entropy", progress_bar=False)
    with pytest.raises(ValueError, match="holds an lr_scheduler state but this trainer has no lr_scheduler"):
        without.train(train, num_epochs=3, resume_from=tmp_path / "last.pth")


def test_train_takes_missing_arguments_from_run_defaults(corpus, tmp_path):
    train, val, _ = corpus.loaders(batch_size=16)
    trainer = QuantumTrainer(model_for(corpus), "adamw", "cross_entropy", progress_bar=False)
    with pytest.raises(ValueError, match="train\\(\\) needs train_dataloader"):
        trainer.train()
    trainer.run_defaults = RunDefaults(train_dataloader=train, val_dataloader=val, num_epochs=2,
                                       checkpoint_dir=tmp_path, keep_best_checkpoint=False)
    history = trainer.train()
    assert history["epoch"] == [0, 1] and len(history["val_loss"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pth"]
    trainer.train(num_epochs=1, keep_best_checkpoint=True)  # a given argument wins; a new run's first epoch is best
    assert trainer.epoch == 3 and [p.name for p in tmp_path.glob("epoch=2-step=*-val_loss=*.pth")] != []
