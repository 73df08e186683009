"""``RunDefaults``: what ``QuantumTrainer.train()`` uses for the arguments it is not given.

Plain ``QuantumTrainer(...)`` keeps the seed's defaults (10 epochs, no checkpoints);
:meth:`QuantumTrainer.from_training_arguments` fills them from Hugging Face
``TrainingArguments``, so ``trainer.train()`` runs what those arguments describe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import attrs


@attrs.define(kw_only=True)
class RunDefaults:
    """Defaults for :meth:`QuantumTrainer.train`; an argument given to ``train`` wins."""

    train_dataloader: Iterable[Any] | None = None
    val_dataloader: Iterable[Any] | None = None
    num_epochs: int = 10
    checkpoint_dir: str | os.PathLike[str] | None = None
    restore_best_weights: bool = False
    keep_best_checkpoint: bool = True
    max_steps: int | None = None
    val_check_interval: int | float | None = None
    checkpoint_every_n_steps: int | None = None
    monitor: str | None = None  # None: val_loss, or train_loss without a val loader
    mode: str = "min"
    save_top_k: int | None = None  # None: 1, or 0 with keep_best_checkpoint=False
