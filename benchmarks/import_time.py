"""How much ``import qembed`` adds to ``import torch``.

Runs fresh interpreters, interleaved (``import torch`` then ``import torch, qembed``,
repeated), and reports the median of the per-pair differences, so that load on a
shared machine hits both sides alike.

    python benchmarks/import_time.py --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall_time(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    wall_time("import torch, qembed")  # warm the file cache
    torch_only, both, added = [], [], []
    for _ in range(args.repeats):
        baseline = wall_time("import torch")
        with_qembed = wall_time("import torch, qembed")
        torch_only.append(baseline)
        both.append(with_qembed)
        added.append(with_qembed - baseline)
    print(f"import torch:          median {statistics.median(torch_only) * 1e3:7.1f} ms")
    print(f"import torch, qembed:  median {statistics.median(both) * 1e3:7.1f} ms")
    print(f"added by qembed:       median {statistics.median(added) * 1e3:7.1f} ms "
          f"(over {args.repeats} interleaved pairs)")


if __name__ == "__main__":
    main()
