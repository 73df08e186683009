"""Continual learning: class-incremental forgetting with and without replay.

The polysemy corpus is split into tasks with disjoint label sets
(``corpus.task_sequence``). For each replay setting (none, then each built-in
strategy with the same ``capacity`` and ``replay_ratio``) one ``QuantumClassifier``
over all labels is trained by one ``QuantumTrainer`` on the tasks in order, one
``trainer.train`` call per task; after each task it is tested on every task, giving
the accuracy matrix ``R[i][j]`` (accuracy on task ``j`` after training task ``i``).
Every setting starts from the same seed, initial weights and data order, and trains
with cross-entropy, AdamW and the trainer's defaults otherwise (the ``linear``
superposition schedule, restarting with each ``train`` call; no clipping).

Reported per setting, with ``T`` tasks: the average accuracy after the last task,
the average forgetting ``mean_{j<T-1} (max_{i<T-1} R[i][j] - R[T-1][j])``, the
backward transfer ``BWT = mean_{j<T-1} (R[T-1][j] - R[j][j])`` (Lopez-Paz & Ranzato,
2017) and the first task's accuracy after the last task, ``R[T-1][0]``.

    python benchmarks/continual.py --num-tasks 4 --epochs 5 --json continual.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from qembed.data import PolysemyCorpus, split_labels
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

STRATEGIES = ("none", "reservoir", "class_balanced", "uncertainty")


def replay_setting(strategy: str, capacity: int, replay_ratio: float) -> bool | dict[str, Any]:
    """The ``quantum_memory_replay`` value for ``strategy``."""
    if strategy == "none":
        return False
    return {"name": strategy, "capacity": capacity, "replay_ratio": replay_ratio}


def run(corpus: PolysemyCorpus, strategy: str, args: argparse.Namespace) -> list[list[float]]:
    """Train one model on the task sequence; returns the accuracy matrix ``R[i][j]``."""
    tasks = corpus.task_sequence(args.num_tasks, batch_size=args.batch_size, seed=args.seed)  # fresh data order
    torch.manual_seed(args.seed)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=args.embedding_dim,
                              num_heads=args.num_heads, num_layers=args.num_layers, max_length=64)
    config = {"quantum_memory_replay": replay_setting(strategy, args.capacity, args.replay_ratio)}
    trainer = QuantumTrainer(model, torch.optim.AdamW(model.parameters(), lr=args.lr), "cross_entropy", config,
                             device="cpu", progress_bar=False, seed=args.seed)
    matrix: list[list[float]] = []
    for task in tasks:
        trainer.train(task["train"], task["val"], num_epochs=args.epochs)
        matrix.append([trainer.validate(other["test"])["accuracy"] for other in tasks])
    return matrix


def summarise(matrix: list[list[float]]) -> dict[str, float]:
    """Average accuracy, forgetting and BWT after the last task, and the first task's final accuracy."""
    last = len(matrix) - 1
    earlier = range(last)
    return {
        "average_accuracy": statistics.fmean(matrix[last]),
        "forgetting": statistics.fmean(max(matrix[i][j] for i in earlier) - matrix[last][j] for j in earlier),
        "bwt": statistics.fmean(matrix[last][j] - matrix[j][j] for j in earlier),
        "first_task_final": matrix[last][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="corpus, model, data order and trainer seed")
    parser.add_argument("--num-tasks", type=int, default=4, help="tasks with disjoint labels, in [2, 8]")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per task")
    parser.add_argument("--capacity", type=int, default=500, help="replay buffer capacity (examples)")
    parser.add_argument("--replay-ratio", type=float, default=0.5, help="share of each mixed batch replayed")
    parser.add_argument("--lr", type=float, default=5e-3, help="AdamW learning rate")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=4000, help="training sentences, all tasks together")
    parser.add_argument("--num-val", type=int, default=500, help="validation sentences, all tasks together")
    parser.add_argument("--num-test", type=int, default=2000, help="test sentences, all tasks together")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--num-heads", type=int, default=2)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the settings and numbers here")
    args = parser.parse_args()
    if not 2 <= args.num_tasks <= 8:
        parser.error(f"--num-tasks must be in [2, 8] (forgetting needs two tasks), got {args.num_tasks}")
    torch.set_num_threads(args.threads)
    # the multi-threaded CPU backward of the sense-embedding gather (index_put_ with accumulate)
    # adds in a varying order; without this, equal seeds give different runs with 2 threads
    torch.use_deterministic_algorithms(True)
    corpus = PolysemyCorpus(seed=args.seed, num_train=args.num_train, num_val=args.num_val, num_test=args.num_test)
    results: dict[str, dict[str, Any]] = {}
    for strategy in args.strategies:
        start = time.perf_counter()
        matrix = run(corpus, strategy, args)
        results[strategy] = {"accuracy_matrix": matrix, **summarise(matrix),
                             "seconds": time.perf_counter() - start}

    labels = split_labels(corpus.num_labels, args.num_tasks)
    print(f"{args.num_tasks} tasks {labels}, {args.epochs} epochs each, replay capacity {args.capacity}, "
          f"replay_ratio {args.replay_ratio}, lr {args.lr}, seed {args.seed}, {args.threads} threads, "
          f"torch {torch.__version__}")
    print(f"{'setting':>15} | avg acc | forgetting |    BWT | task 0 final | seconds")
    for strategy, result in results.items():
        print(f"{strategy:>15} | {result['average_accuracy']:7.3f} | {result['forgetting']:10.3f} | "
              f"{result['bwt']:6.3f} | {result['first_task_final']:12.3f} | {result['seconds']:7.1f}")
    for strategy, result in results.items():
        print(f"\n{strategy}: R[i][j] = accuracy on task j after training task i")
        print("      " + "".join(f"  task {j}" for j in range(args.num_tasks)))
        for i, row in enumerate(result["accuracy_matrix"]):
            print(f"after {i}" + "".join(f"  {value:6.3f}" for value in row))
    if args.json is not None:
        settings = {key: value for key, value in vars(args).items() if key != "json"}
        payload = {"settings": settings, "task_labels": labels, "torch": torch.__version__, "results": results}
        args.json.write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
