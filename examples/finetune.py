"""Fine-tuning: a classifier starts from a pre-trained masked-LM encoder and learns from few labels.

The specification's fine-tuning workflow on qembed's own models and data. The encoder of a
``QuantumMaskedLM`` pre-trained by ``examples/pretrain_mlm.py`` (on unlabelled sentences) is
copied into a ``QuantumClassifier``, which is then fine-tuned on a small labelled set drawn
from another corpus seed (``constant`` superposition schedule, entanglement frozen, early
stopping). The same classifier trained from scratch on the same labels is the baseline.

    python examples/finetune.py                    # pre-trains first, then fine-tunes: about a minute on 2 CPU cores
    python examples/finetune.py --pretrained runs/pretrain_mlm/pretrained_quantum_model.pth
    python examples/finetune.py --smoke            # tiny corpus and model, a few seconds
    python examples/finetune.py --out runs/ft      # where the files go (default runs/finetune)

Writes ``<out>/pretrain/`` (when it pre-trains), ``<out>/pretrained/history.json`` and
``<out>/scratch/history.json`` (with TensorBoard logs); prints the test accuracy of both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pretrain_mlm import EPOCHS, encoder_shape, pretrain
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer


def finetune(quantum_model: QuantumClassifier, corpus: PolysemyCorpus, out: Path, seed: int) -> dict[str, float]:
    """The specification's fine-tuning workflow; returns the test metrics."""
    task_train_loader, task_val_loader, task_test_loader = corpus.loaders(batch_size=16, seed=seed)
    finetune_optimizer = QuantumOptimizer(quantum_model.parameters(), lr=1e-3)
    task_loss = QuantumLoss(uncertainty_weight=0.1)

    # Fine-tune for specific task
    finetune_config = {
        'superposition_schedule': 'constant',
        'entanglement_training': False,  # Disable entanglement training
        'uncertainty_regularization': 0.1
    }

    finetuner = QuantumTrainer(
        model=quantum_model,
        optimizer=finetune_optimizer,
        loss_fn=task_loss,
        quantum_training_config=finetune_config,
        log_dir=out,  # TensorBoard logs and history.json
    )

    # Fine-tune
    finetuner.train(
        train_dataloader=task_train_loader,
        val_dataloader=task_val_loader,
        num_epochs=5,
        early_stopping_patience=3
    )
    return finetuner.validate(task_test_loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", type=Path, help="a model file from pretrain_mlm.py (default: pre-train now)")
    parser.add_argument("--labelled", type=int, default=400, help="labelled training sentences (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "finetune", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpora and model")
    args = parser.parse_args()

    pretrained = args.pretrained
    if pretrained is None:
        sizes = {"num_train": 128, "num_val": 32, "num_test": 1} if args.smoke else {}
        metrics = pretrain(PolysemyCorpus(seed=args.seed, **sizes), args.out / "pretrain",
                           epochs=2 if args.smoke else EPOCHS, smoke=args.smoke, seed=args.seed)
        pretrained = args.out / "pretrain" / "pretrained_quantum_model.pth"
        print(f"pre-trained {pretrained}: masked-token accuracy {metrics['accuracy']:.3f}")
    # labelled sentences the pre-training never saw: another corpus seed
    labelled = PolysemyCorpus(seed=args.seed + 1, num_train=64 if args.smoke else args.labelled,
                              num_val=32 if args.smoke else 500, num_test=32 if args.smoke else 500)

    results = {}
    for start in ("pretrained", "scratch"):
        torch.manual_seed(args.seed)  # the same head (and, from scratch, encoder) initialisation
        quantum_model = QuantumClassifier(labelled.vocab_size, labelled.num_labels, **encoder_shape(args.smoke))
        if start == "pretrained":
            quantum_model.load_encoder(pretrained)  # the encoder only: the classifier keeps its own head
        results[start] = finetune(quantum_model, labelled, args.out / start, args.seed)

    print(f"\nfine-tuned on {len(labelled.train)} labelled sentences, tested on {len(labelled.test)}:")
    for start, metrics in results.items():
        print(f"  {start:<10} test accuracy {metrics['accuracy']:.3f}, test loss {metrics['loss']:.4f}")
    gain = results["pretrained"]["accuracy"] - results["scratch"]["accuracy"]
    print(f"pre-training changes test accuracy by {gain:+.3f} (chance {1 / labelled.num_labels:.3f})")


if __name__ == "__main__":
    main()
