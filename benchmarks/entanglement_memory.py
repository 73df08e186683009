"""Peak memory of one forward + backward pass of ``EntanglementLayer``: dense
(all T^2 pairs), dense with ``memory_efficient`` (64 query rows at a time,
recomputed in backward; the trainer's ``quantum_memory_efficient``) and sparse
(top-k partners per token).

Each measurement runs in a fresh interpreter (``peak_memory.py``); modes are
interleaved over repetitions and the medians reported.

    python benchmarks/entanglement_memory.py --length 1024 --top-k 16 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics

from peak_memory import peak_mib

MEASURE = r"""
import sys
from torch import nn
from qembed.nn import EntanglementLayer
mode, length, top_k, dim, states, batch, device = sys.argv[1:8]
length, top_k, dim, states, batch = map(int, (length, top_k, dim, states, batch))
torch.manual_seed(0)
efficient = mode == "dense-memory-efficient"
layer = EntanglementLayer(dim, states, mode="dense" if efficient else mode, top_k=top_k,
                          memory_efficient=efficient, chunk_size=64).to(device)
def step(n):
    hidden = torch.randn(batch, n, dim, device=device, requires_grad=True)
    amplitudes = nn.functional.normalize(torch.randn(batch, n, states, device=device), dim=-1)
    out = layer(hidden, amplitudes)
    (out.hidden_states.square().mean() + out.entanglement.mean()).backward()
report_peak(lambda: step(length), lambda: step(8), device)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--states", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    peaks: dict[str, list[float]] = {"dense": [], "dense-memory-efficient": [], "sparse": []}
    for _ in range(args.repeats):
        for mode in peaks:
            peaks[mode].append(peak_mib(MEASURE, mode, args.length, args.top_k, args.dim, args.states,
                                        args.batch, args.device))
    medians = {mode: statistics.median(values) for mode, values in peaks.items()}
    print(f"T={args.length} k={args.top_k} D={args.dim} K={args.states} batch={args.batch} on {args.device}, "
          f"median of {args.repeats}")
    for mode, peak in medians.items():
        print(f"{mode:>24}: {peak:8.1f} MiB peak ({medians['dense'] / peak:.1f}x less than dense)")


if __name__ == "__main__":
    main()
