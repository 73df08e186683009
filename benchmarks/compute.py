"""Compute-side performance keys, each measured on against off, side by side.

``quantum_parallel``: the collapse samples that mutual-information uncertainty needs
(``mc_samples=4``) drawn as one forward of the repeated batch instead of four
forwards. Repetitions alternate the order; figures are medians of steps per second.

    python benchmarks/compute.py --repeats 5 --steps 60
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

LOSS = {"name": "uncertainty", "uncertainty_type": "mutual_information", "mc_samples": 4}


def steps_per_second(corpus: PolysemyCorpus, loader, parallel: bool) -> float:
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=64)
    trainer = QuantumTrainer(model, "adamw", LOSS, {"quantum_parallel": parallel}, progress_bar=False)
    start = time.perf_counter()
    trainer.train_epoch(loader)
    return len(loader) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = PolysemyCorpus(seed=0, num_train=32 * args.steps, num_val=1, num_test=1)
    loader, _, _ = corpus.loaders(batch_size=32)
    steps_per_second(corpus, loader, True)  # warm up
    rates: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(args.repeats):
        for parallel in ((False, True) if repeat % 2 == 0 else (True, False)):
            rates[parallel].append(steps_per_second(corpus, loader, parallel))
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"quantum_parallel (mc_samples=4, batch 32, {args.threads} threads, {args.steps} steps, "
          f"median of {args.repeats}): off {off:.1f} steps/s, on {on:.1f} steps/s, speed-up {on / off:.2f}x")


if __name__ == "__main__":
    main()
