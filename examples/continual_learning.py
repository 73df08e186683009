"""Continual learning: train on one task after another, with and without quantum memory replay.

The specification's continual-learning workflow on qembed's own model and data: the polysemy
corpus's labels split into class-incremental tasks (``corpus.task_sequence``), one
``QuantumTrainer`` trained on each task in turn (``cyclic`` superposition schedule). After
every task the model is tested on every task; *forgetting* is how far a task's accuracy
fell from its best to the end. The run is made twice: with ``'quantum_memory_replay': True``
(a reservoir buffer mixes earlier tasks' sentences into later batches) and without.

    python examples/continual_learning.py              # 3 tasks x 3 epochs on 4000 sentences, twice: about 35 s
    python examples/continual_learning.py --smoke      # tiny corpus and model, a few seconds
    python examples/continual_learning.py --out runs/cl  # where the files go (default runs/continual_learning)

Writes ``<out>/replay/`` and ``<out>/no_replay/`` (history.json, TensorBoard logs) and
``<out>/accuracy.json`` (the accuracy matrices and forgetting); prints both matrices.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from qembed.data import PolysemyCorpus, split_labels
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer


def run_tasks(corpus: PolysemyCorpus, replay: bool, out: Path, *, smoke: bool, seed: int) -> list[list[float]]:
    """Train on the task sequence; returns ``accuracy[i][j]``: task ``j``'s test accuracy after task ``i``."""
    torch.manual_seed(seed)
    size = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1, "max_length": 32} if smoke else {"max_length": 64}
    quantum_model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, **size)
    continual_optimizer = QuantumOptimizer(quantum_model.parameters(), lr=2e-3)
    continual_loss = QuantumLoss(uncertainty_weight=0.1)
    task_sequence = corpus.task_sequence(num_tasks=3, batch_size=32, seed=seed)
    accuracy: list[list[float]] = []

    # Continual learning with quantum components
    continual_config = {
        'superposition_schedule': 'cyclic',
        'entanglement_training': True,
        'uncertainty_regularization': 0.15,
        'quantum_memory_replay': replay
    }

    continual_trainer = QuantumTrainer(
        model=quantum_model,
        optimizer=continual_optimizer,
        loss_fn=continual_loss,
        quantum_training_config=continual_config,
        log_dir=out,  # TensorBoard logs and history.json
    )

    # Train on new tasks while preserving quantum properties
    for task_id, task_data in enumerate(task_sequence):
        continual_trainer.train(
            train_dataloader=task_data['train'],
            val_dataloader=task_data['val'],
            num_epochs=3
        )
        accuracy.append([continual_trainer.validate(task['test'])['accuracy'] for task in task_sequence])
    return accuracy


def forgetting(accuracy: list[list[float]]) -> float:
    """Mean over every task but the last of (best accuracy while it was learnt or later) - (final accuracy)."""
    final, earlier = accuracy[-1], range(len(accuracy) - 1)
    return sum(max(row[task] for row in accuracy[task:]) - final[task] for task in earlier) / len(earlier)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "continual_learning", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model")
    args = parser.parse_args()

    sizes = {"num_train": 192, "num_val": 48, "num_test": 96} if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    results = {}
    for name, replay in (("replay", True), ("no_replay", False)):
        accuracy = run_tasks(corpus, replay, args.out / name, smoke=args.smoke, seed=args.seed)
        results[name] = {"accuracy": accuracy, "forgetting": forgetting(accuracy),
                         "final_mean_accuracy": sum(accuracy[-1]) / len(accuracy[-1])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "accuracy.json").write_text(json.dumps(results, indent=1))

    groups = split_labels(corpus.num_labels, 3)
    print("\ntasks: " + "; ".join(f"{task}: " + ", ".join(corpus.label_names[label] for label in labels)
                                 for task, labels in enumerate(groups)))
    for name, result in results.items():
        print(f"\n{name}: test accuracy on each task (columns) after training each task (rows)")
        for task, row in enumerate(result["accuracy"]):
            print(f"  after task {task}:  " + "  ".join(f"{value:.3f}" for value in row))
        print(f"  forgetting {result['forgetting']:.3f}, final accuracy averaged over the tasks "
              f"{result['final_mean_accuracy']:.3f}")


if __name__ == "__main__":
    main()
