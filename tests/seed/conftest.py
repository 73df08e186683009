"""Fixtures for the seed snippets: qembed's own models and loaders, small enough
that every snippet runs as written (including ``num_epochs=100``) in seconds."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import CrossEntropyLoss

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier, QuantumMaskedLM
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer


def small_classifier(corpus: PolysemyCorpus) -> QuantumClassifier:
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                             max_length=32)


@pytest.fixture
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=96, num_val=32, num_test=32)


@pytest.fixture
def snippet_namespace(corpus, tmp_path, monkeypatch):
    """Names the seed's snippets use, bound to qembed objects; run in a temp folder."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    train_loader, val_loader, _ = corpus.loaders(batch_size=32)
    model = small_classifier(corpus)
    return {
        "QuantumTrainer": QuantumTrainer,  # imported by the seed's first snippet, used by the others
        "nn": nn,
        "CrossEntropyLoss": CrossEntropyLoss,
        "quantum_model": model,
        "model": model,
        "optimizer": QuantumOptimizer(model.parameters(), lr=1e-3),
        "loss_fn": QuantumLoss(),
        "train_loader": train_loader,
        "val_loader": val_loader,
    }


@pytest.fixture
def mlm_namespace(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    small = PolysemyCorpus(seed=1, num_train=16, num_val=8, num_test=8)
    pretrain_loader, _ = small.mlm_loaders(batch_size=16)
    model = QuantumMaskedLM(corpus.vocab_size, embedding_dim=16, num_heads=2, num_layers=1, max_length=32)
    return {
        "QuantumTrainer": QuantumTrainer,
        "quantum_model": model,
        "pretrain_optimizer": QuantumOptimizer(model.parameters(), lr=1e-3),
        "mlm_loss": CrossEntropyLoss(),
        "pretrain_loader": pretrain_loader,
    }
