"""Plot a training history: the specification's "Training History" snippet on a real run.

Trains a ``QuantumClassifier`` on the embedded polysemy corpus, then draws
``trainer.training_history`` with matplotlib as the specification does, axes labelled (train and
validation loss, sense uncertainty, quantum loss per epoch), saving the figure to a PNG
instead of showing it.

    python examples/plot_history.py                # 8 epochs on 4000 sentences, about 40 s on 2 CPU cores
    python examples/plot_history.py --smoke        # tiny corpus and model, 3 epochs, a few seconds
    python examples/plot_history.py --out runs/ph  # where the files go (default runs/plot_history)

Writes ``<out>/history.png``, ``<out>/history.json`` and TensorBoard logs. Needs matplotlib.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import torch

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

matplotlib.use("Agg")  # draw to files: no display needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "plot_history", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model, 3 epochs")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    sizes = {"num_train": 192, "num_val": 64, "num_test": 1} if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    train_loader, val_loader, _ = corpus.loaders(batch_size=32, seed=args.seed)
    size = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1} if args.smoke else {}
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, max_length=64, **size)
    trainer = QuantumTrainer(model, {"name": "quantum", "lr": 2e-3, "quantum_learning_rate": 1e-2},
                             {"name": "quantum", "uncertainty_weight": 0.1, "entanglement_weight": 0.05},
                             {"superposition_schedule": "linear"}, log_dir=args.out)
    trainer.train(train_loader, val_loader, num_epochs=3 if args.smoke else args.epochs)

    # Get complete training history
    history = trainer.training_history

    # Plot training curves
    import matplotlib.pyplot as plt

    plt.figure(figsize=(12, 4))

    plt.subplot(1, 3, 1)
    plt.plot(history['train_loss'], label='Train')
    plt.plot(history['val_loss'], label='Validation')
    plt.title('Loss')
    plt.xlabel('epoch (from 0)')
    plt.ylabel('mean loss (task + quantum terms)')
    plt.legend()

    plt.subplot(1, 3, 2)
    plt.plot(history['uncertainty'])
    plt.title('Uncertainty')
    plt.xlabel('epoch (from 0)')
    plt.ylabel('sense entropy / log K')

    plt.subplot(1, 3, 3)
    plt.plot(history['quantum_loss'])
    plt.title('Quantum Loss')
    plt.xlabel('epoch (from 0)')
    plt.ylabel('quantum terms of the loss')

    plt.tight_layout()
    plt.savefig(args.out / "history.png", dpi=100)  # the specification shows it: plt.show()

    print(f"{len(history['train_loss'])} epochs: train loss {history['train_loss'][0]:.4f} -> "
          f"{history['train_loss'][-1]:.4f}, val loss {history['val_loss'][0]:.4f} -> {history['val_loss'][-1]:.4f}, "
          f"uncertainty {history['uncertainty'][0]:.3f} -> {history['uncertainty'][-1]:.3f}, "
          f"quantum loss {history['quantum_loss'][0]:.4f} -> {history['quantum_loss'][-1]:.4f}")
    print(f"val accuracy {history['val_accuracy'][-1]:.3f}")
    print(f"figure: {args.out / 'history.png'}")


if __name__ == "__main__":
    main()
