"""Compiled training with dropout: whose random numbers inductor uses.

A ``QuantumClassifier`` with its defaults (dropout 0.1) trains on random batches of B = 32
sentences of length T, three ways side by side: eager; ``torch.compile(model)`` (inductor
draws dropout's masks and the collapse samples with its own generator); and
``torch.compile(model, options={"fallback_random": True})``, what
``QuantumTrainer(compile=...)`` does (inductor calls eager's random functions). Rounds rotate
over the three; the figure is the median ms per step (forward, cross-entropy, backward, AdamW).

    python benchmarks/compile_random.py --length 128 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from qembed.models import QuantumClassifier
from qembed.training.compilation import compile_module

VOCAB, LABELS, BATCH = 1000, 8, 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=128, help="tokens per sentence (default 128)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--steps", type=int, default=3, help="steps per round (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(5, VOCAB, (BATCH, args.length), generator=generator)
    mask, labels = torch.ones_like(inputs), torch.randint(0, LABELS, (BATCH,), generator=generator)

    def runner(compile_: str) -> tuple:
        torch.manual_seed(0)
        model = QuantumClassifier(VOCAB, LABELS)
        call = {"eager": model, "inductor random": torch.compile(model, dynamic=False),
                "eager random (QuantumTrainer)": compile_module(model, {"dynamic": False})}[compile_]
        return call, torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(call, optimizer) -> None:
        call(inputs, mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    runners = {name: runner(name) for name in ("eager", "inductor random", "eager random (QuantumTrainer)")}
    for name, (call, optimizer) in runners.items():
        start = time.perf_counter()
        step(call, optimizer)  # compiles
        print(f"{name}: first step {time.perf_counter() - start:.1f} s", flush=True)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for round_ in range(args.repeats):
        names = list(runners)[round_ % len(runners):] + list(runners)[:round_ % len(runners)]
        for name in names:
            call, optimizer = runners[name]
            start = time.perf_counter()
            for _ in range(args.steps):
                step(call, optimizer)
            times[name].append((time.perf_counter() - start) / args.steps * 1000)
    eager = statistics.median(times["eager"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s} {median:8.1f} ms/step   {eager / median:.2f}x eager's speed")


if __name__ == "__main__":
    main()
