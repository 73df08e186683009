"""Shared by the memory benchmarks: the peak memory of one step, measured in a
fresh interpreter so that allocator caches from another configuration cannot hide it.

On CUDA the peak is ``torch.cuda.max_memory_allocated`` above what was allocated
before the step; on the CPU it is the growth of the process's peak resident set
size (``ru_maxrss``) during the step, which includes allocator slack.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Prepended to a benchmark's measurement code; it defines ``report_peak``.
REPORT_PEAK = r"""
import json, resource, torch

def report_peak(step, warm_up, device):
    warm_up()  # first-call costs and allocator set-up, at a tiny size
    if device == "cuda":
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(); torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        step()
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(json.dumps({"peak_bytes": peak}))
"""


def peak_mib(code: str, *arguments: object) -> float:
    """Run ``REPORT_PEAK + code`` with ``arguments`` in ``sys.argv``; the peak in MiB."""
    command = [sys.executable, "-c", REPORT_PEAK + code, *map(str, arguments)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_bytes"] / 2**20
