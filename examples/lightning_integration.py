"""Train ``QuantumClassifier`` on the embedded polysemy corpus with PyTorch Lightning's
loop, stop halfway as a pre-empted job would, resume from Lightning's checkpoint and test.

    python examples/lightning_integration.py            # 4 epochs, about half a minute on 2 CPU cores
    python examples/lightning_integration.py --smoke    # a few seconds

Needs ``pip install "qembed[lightning]"``. ``QuantumLightningModule`` applies the
``linear`` superposition schedule per global step and logs the quantum metrics through
Lightning: the CSV logger writes them to ``<out>/lightning_logs/version_*/metrics.csv``;
checkpoints go to ``<out>/checkpoints`` (``last.ckpt`` and the best by ``val_loss``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightning
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from qembed.data import PolysemyCorpus
from qembed.integrations.lightning import QuantumLightningModule
from qembed.models import QuantumClassifier


class StopAfterEpochs(Callback):
    """Stands in for a crash or a pre-empted job: ends the fit after ``epochs`` epochs."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        trainer.should_stop = trainer.current_epoch + 1 >= self.epochs


def fit(corpus: PolysemyCorpus, args: argparse.Namespace, *, stop_after: int | None = None,
        ckpt_path: Path | None = None) -> tuple[lightning.Trainer, QuantumLightningModule]:
    torch.manual_seed(args.seed)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16 if args.smoke else 32,
                              num_heads=2, num_layers=1, max_length=64)
    module = QuantumLightningModule(
        model,
        {"name": "quantum", "lr": 3e-3, "quantum_learning_rate": 1e-2},
        {"name": "quantum", "uncertainty_weight": 0.05},
        {"superposition_schedule": "linear", "quantum_gradient_clipping": True, "quantum_memory_replay": True},
    )
    callbacks = [ModelCheckpoint(dirpath=args.out / "checkpoints", monitor="val_loss", save_last=True)]
    if stop_after is not None:
        callbacks.append(StopAfterEpochs(stop_after))
    trainer = lightning.Trainer(max_epochs=args.epochs, accelerator="auto", devices=1, callbacks=callbacks,
                                logger=CSVLogger(args.out), log_every_n_steps=args.log_every, enable_progress_bar=False,
                                enable_model_summary=False)
    train, val, _ = corpus.loaders(batch_size=args.batch_size, seed=args.seed)
    trainer.fit(module, train, val, ckpt_path=ckpt_path)
    return trainer, module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / f"lightning-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model, two epochs")
    args = parser.parse_args()
    args.log_every = 1 if args.smoke else 10
    if args.smoke:
        args.epochs, args.batch_size = 2, 16
    sizes = dict(num_train=64, num_val=32, num_test=32) if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)

    first, _ = fit(corpus, args, stop_after=args.epochs // 2)
    print(f"stopped at step {first.global_step} of {first.estimated_stepping_batches}: "
          f"val_accuracy {float(first.callback_metrics['val_accuracy']):.3f}")

    trainer, module = fit(corpus, args, ckpt_path=args.out / "checkpoints" / "last.ckpt")
    print(f"resumed and finished at step {trainer.global_step}: collapse probability "
          f"{module.quantum_trainer.collapse_probability:.2f}, replay buffer {len(module.quantum_trainer.replay)} "
          f"examples, val_accuracy {float(trainer.callback_metrics['val_accuracy']):.3f}")

    _, _, test = corpus.loaders(batch_size=args.batch_size, seed=args.seed)
    (results,) = trainer.test(module, test, verbose=False)
    print(f"test accuracy {results['test_accuracy']:.3f} (chance {1 / corpus.num_labels:.3f}), "
          f"ece {results['test_ece']:.3f}; metrics and checkpoints in {args.out}")


if __name__ == "__main__":
    main()
