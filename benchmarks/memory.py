"""Peak memory of the collapse: ``collapse_optimization`` "batched" against
"sequential", for one forward + backward pass of ``QuantumEmbeddings`` on a large
batch (each measurement in a fresh interpreter, see ``peak_memory.py``; modes
interleaved, medians reported). Entanglement memory (``quantum_memory_efficient``,
sparse mode) is measured by ``entanglement_memory.py``.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--states", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    peaks: dict[str, list[float]] = {"batched": [], "sequential": []}
    for _ in range(args.repeats):
        for mode in peaks:
            peaks[mode].append(peak_mib(MEASURE, mode, args.batch, args.length, args.dim, args.states, args.device))
    batched, sequential = (statistics.median(peaks[mode]) for mode in ("batched", "sequential"))
    print(f"QuantumEmbeddings B={args.batch} T={args.length} D={args.dim} K={args.states} on {args.device}, "
          f"median of {args.repeats}")
    print(f"   batched: {batched:8.1f} MiB peak")
    print(f"sequential: {sequential:8.1f} MiB peak ({batched / sequential:.1f}x less)")


if __name__ == "__main__":
    main()
