"""Peak memory of one forward + backward pass, key off against on (each
measurement in a fresh interpreter, see ``peak_memory.py``; interleaved, medians):

- ``collapse_optimization``: "batched" against "sequential" on ``QuantumEmbeddings``
  with a large batch;
- ``gradient_checkpointing``: a ``QuantumClassifier`` training step (D = 128, four
  encoder blocks) without and with recomputation in backward.

Entanglement memory (``quantum_memory_efficient``, sparse mode) is measured by
``entanglement_memory.py``.

    python benchmarks/memory.py --batch 64 --length 256 --dim 128 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics

from peak_memory import peak_mib

MEASURE = r"""
import sys
from qembed.nn import QuantumEmbeddings, set_collapse_probability
mode, batch, length, dim, states, device = sys.argv[1:7]
batch, length, dim, states = map(int, (batch, length, dim, states))
torch.manual_seed(0)
layer = QuantumEmbeddings(1000, dim, states, "context_aware").to(device)
layer.sequential = mode == "sequential"
set_collapse_probability(layer, 0.5)
def step(rows):
    ids = torch.randint(0, 1000, (rows, length), device=device)
    layer(ids).embeddings.square().mean().backward()
report_peak(lambda: step(batch), lambda: step(2), device)
"""

CHECKPOINTING = r"""
import sys
from qembed.models import QuantumClassifier
mode, batch, length, dim, states, device = sys.argv[1:7]
batch, length, dim, states = map(int, (batch, length, dim, states))
torch.manual_seed(0)
model = QuantumClassifier(1000, 4, embedding_dim=dim, num_states=states, num_layers=4, max_length=length).to(device)
if mode == "on":
    model.gradient_checkpointing_enable()
def step(rows):
    ids = torch.randint(0, 1000, (rows, length), device=device)
    model(ids, labels=torch.zeros(rows, dtype=torch.long, device=device)).loss.backward()
report_peak(lambda: step(batch), lambda: step(2), device)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--states", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"B={args.batch} T={args.length} D={args.dim} K={args.states} on {args.device}, median of {args.repeats}")
    for key, code, (off, on) in (("collapse_optimization", MEASURE, ("batched", "sequential")),
                                 ("gradient_checkpointing", CHECKPOINTING, ("off", "on"))):
        peaks: dict[str, list[float]] = {off: [], on: []}
        for _ in range(args.repeats):
            for mode in peaks:
                peaks[mode].append(peak_mib(code, mode, args.batch, args.length, args.dim, args.states, args.device))
        first, second = statistics.median(peaks[off]), statistics.median(peaks[on])
        print(f"{key}: {off} {first:.1f} MiB, {on} {second:.1f} MiB peak ({first / second:.1f}x less)")


if __name__ == "__main__":
    main()
