"""Compute-side performance keys, each measured on against off, side by side.

- ``quantum_parallel``: the collapse samples that mutual-information uncertainty
  needs (``mc_samples=4``) drawn as one forward of the repeated batch instead of four
  forwards;
- ``mixed_precision``: bf16 autocast (on the CPU) against float32, with ``QuantumLoss``.

Repetitions alternate the order; figures are medians of steps per second.

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

MUTUAL_INFORMATION = {"name": "uncertainty", "uncertainty_type": "mutual_information", "mc_samples": 4}
#: key -> (loss, config when off, config when on)
KEYS = {
    "quantum_parallel": (MUTUAL_INFORMATION, {"quantum_parallel": False}, {"quantum_parallel": True}),
    "mixed_precision": ("quantum", {"mixed_precision": False}, {"mixed_precision": "bf16"}),
}


def steps_per_second(corpus: PolysemyCorpus, loader, loss: object, config: dict) -> float:
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=64)
    trainer = QuantumTrainer(model, "adamw", loss, config, progress_bar=False)
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
    print(f"batch 32, {args.threads} threads, {args.steps} steps, median of {args.repeats}")
    for key, (loss, off_config, on_config) in KEYS.items():
        steps_per_second(corpus, loader, loss, on_config)  # warm up
        rates: dict[bool, list[float]] = {False: [], True: []}
        for repeat in range(args.repeats):
            for on in ((False, True) if repeat % 2 == 0 else (True, False)):
                rates[on].append(steps_per_second(corpus, loader, loss, on_config if on else off_config))
        off, on = statistics.median(rates[False]), statistics.median(rates[True])
        print(f"{key:>17}: off {off:.1f} steps/s, on {on:.1f} steps/s ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
