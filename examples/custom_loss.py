"""Custom loss: the specification's ``QuantumAwareLoss``, passed as an object and picked by name.

A loss whose ``forward`` names ``uncertainty`` gets the model's per-example sense
uncertainty from the trainer. The script trains a ``QuantumClassifier`` twice: with the
loss object built as the specification shows (``uncertainty_weight=0.2``), and with the
loss registered from code as a plugin (``qembed.plugins.register``) and chosen by the name
``"quantum_aware"`` with a stronger weight. Then it runs what the loss's own tests would:
qembed's contract check (``qembed.testing.check_loss``) and a lookup by name inside
``qembed.testing.temporary_plugin``.

    python examples/custom_loss.py                 # 4 epochs on 4000 sentences per run, about 40 s on 2 CPU cores
    python examples/custom_loss.py --smoke         # tiny corpus and model, a few seconds
    python examples/custom_loss.py --out runs/cl   # where the files go (default runs/custom_loss)

Writes ``<out>/object/`` and ``<out>/by_name/`` (history.json, TensorBoard logs); prints
each run's validation accuracy and sense uncertainty.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import CrossEntropyLoss

from qembed import hookimpl, plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.testing import check_loss, temporary_plugin
from qembed.training import QuantumTrainer


class QuantumAwareLoss(nn.Module):
    def __init__(self, base_loss, uncertainty_weight=0.1):
        super().__init__()
        self.base_loss = base_loss
        self.uncertainty_weight = uncertainty_weight

    def forward(self, outputs, labels, uncertainty=None):
        # Base task loss
        task_loss = self.base_loss(outputs.logits, labels)

        # Uncertainty regularization
        if uncertainty is not None:
            uncertainty_loss = uncertainty.mean()
            total_loss = task_loss + self.uncertainty_weight * uncertainty_loss
        else:
            total_loss = task_loss

        return total_loss


class QuantumAwareLossPlugin:
    """Makes ``QuantumAwareLoss`` available by name; a package would declare the same hook
    under the ``qembed`` entry-point group (see ``examples/third_party_plugin``)."""

    @hookimpl
    def qembed_register_losses(self):
        return {"quantum_aware": QuantumAwareLoss}


def check_the_contract() -> None:
    """What a plugin's own test suite runs on its loss."""
    check_loss(QuantumAwareLoss, base_loss=CrossEntropyLoss(), token_level=False)  # classification labels only
    with temporary_plugin(QuantumAwareLossPlugin()):
        assert isinstance(plugins.create("losses", {"name": "quantum_aware", "base_loss": CrossEntropyLoss()}),
                          QuantumAwareLoss)
    assert "quantum_aware" not in plugins.available("losses")  # gone after the block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "custom_loss", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model, 2 epochs")
    args = parser.parse_args()

    sizes = {"num_train": 128, "num_val": 64, "num_test": 1} if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    train_loader, val_loader, _ = corpus.loaders(batch_size=32, seed=args.seed)
    epochs = 2 if args.smoke else args.epochs

    def fresh_model() -> QuantumClassifier:
        torch.manual_seed(args.seed)  # both runs start from the same weights
        size = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1, "max_length": 32} if args.smoke else {}
        return QuantumClassifier(corpus.vocab_size, corpus.num_labels, **{"max_length": 64, **size})

    # 1. The loss as an object, as the specification writes it.
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    # Use custom loss
    custom_loss = QuantumAwareLoss(CrossEntropyLoss(), uncertainty_weight=0.2)
    trainer = QuantumTrainer(model, optimizer, custom_loss, log_dir=args.out / "object")
    runs = {"object, uncertainty_weight=0.2": trainer.train(train_loader, val_loader, num_epochs=epochs)}

    # 2. The same class registered from code as a plugin and picked by name, with its options.
    name = plugins.register(QuantumAwareLossPlugin(), name="quantum_aware_loss")
    try:
        print(f"'quantum_aware' comes from {plugins.available('losses')['quantum_aware'].source.describe()}")
        model = fresh_model()
        trainer = QuantumTrainer(
            model, {"name": "adamw", "lr": 2e-3},
            {"name": "quantum_aware", "base_loss": CrossEntropyLoss(), "uncertainty_weight": 1.0},
            log_dir=args.out / "by_name",
        )
        runs["by name, uncertainty_weight=1.0"] = trainer.train(train_loader, val_loader, num_epochs=epochs)
    finally:
        plugins.unregister(name)

    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(args.out / ".hypothesis"))  # its cache: not in the cwd
    check_the_contract()
    print("contract check passed: check_loss(QuantumAwareLoss), and found by name inside temporary_plugin")
    print(f"\nafter {epochs} epochs on {len(corpus.train)} sentences:")
    for label, history in runs.items():
        print(f"  {label:<32} val accuracy {history['val_accuracy'][-1]:.3f}, "
              f"sense uncertainty {history['uncertainty'][-1]:.3f} (1 = every sense equally likely)")


if __name__ == "__main__":
    main()
