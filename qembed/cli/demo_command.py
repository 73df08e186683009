"""``qembed demo``: the main job of ``make demo``.

Trains ``QuantumClassifier`` on the embedded polysemy corpus, every component
chosen by string name, with TensorBoard logs, ``history.json`` and the best model
under ``runs/<timestamp>/``; then prints a per-epoch table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

DEMO_CONFIG = {
    "superposition_schedule": "linear",
    "entanglement_training": True,
    "uncertainty_regularization": 0.05,
    "collapse_strategy": "context_aware",
    "quantum_gradient_clipping": True,
    "max_quantum_grad_norm": 1.0,
    "log_every_n_steps": 20,
}
DEMO_OPTIMIZER = {"name": "quantum", "lr": 3e-3, "quantum_learning_rate": 1e-2}
DEMO_LOSS = {"name": "quantum", "uncertainty_weight": 0.05, "entanglement_weight": 0.01}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="train a QuantumClassifier on the embedded polysemy corpus (1-2 minutes)",
        description="Train QuantumClassifier on the embedded polysemy corpus with components chosen by "
        "string name; TensorBoard logs, history.json and the best model go to runs/<timestamp>/.",
        epilog="examples:\n  qembed demo\n  qembed demo --epochs 2 --runs-dir /tmp/runs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from qembed.data import PolysemyCorpus
    from qembed.models import QuantumClassifier
    from qembed.training import QuantumTrainer

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    torch.manual_seed(args.seed)
    run_dir = args.runs_dir / time.strftime("%Y%m%d-%H%M%S")
    corpus = PolysemyCorpus(seed=args.seed)
    train_loader, val_loader, _ = corpus.loaders(batch_size=32, seed=args.seed)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, max_length=64)
    trainer = QuantumTrainer(model, DEMO_OPTIMIZER, DEMO_LOSS, DEMO_CONFIG, log_dir=run_dir, seed=args.seed)
    print(f"training QuantumClassifier on the polysemy corpus ({len(corpus.train)} sentences, "
          f"{corpus.num_labels} labels) for {args.epochs} epochs; logs in {run_dir}")
    history = trainer.train(train_loader, val_loader, num_epochs=args.epochs, save_best_model=True,
                            model_save_path=run_dir / "best_model.pth")
    print(f"\n{'epoch':>5}  {'loss':>7}  {'val acc':>7}  {'uncertainty':>11}  {'collapse p':>10}")
    for epoch in range(len(history["train_loss"])):
        print(f"{epoch + 1:>5}  {history['train_loss'][epoch]:>7.4f}  {history['val_accuracy'][epoch]:>7.3f}  "
              f"{history['uncertainty'][epoch]:>11.4f}  {history['collapse_probability'][epoch]:>10.3f}")
    print(f"\nbest model: {run_dir / 'best_model.pth'}")
    print(f"curves:     tensorboard --logdir {args.runs_dir}")
    return 0
