"""Scaling on torch.distributed: 2 processes x 1 thread against 1 process x 1 thread,
and the cost of ``entanglement_sync``.

Each process trains the medium ``QuantumClassifier`` (D = 64, two encoder blocks) on
the polysemy corpus with batches of 32 per process for ``--steps`` optimizer steps;
2-process runs are launched with ``torchrun`` (gloo). The figure is examples per
second; the scaling is the 2-process rate over the 1-process rate (ideal: 2.0). The
sync cost compares 2-process runs with an ``EntanglementLoss`` without and with
``entanglement_sync`` (one more all-reduce per step). Runs rotate; medians reported.

    python benchmarks/distributed.py --repeats 3 --steps 60
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

JOB = r"""
import json, os, sys, time, torch
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer
steps, out, loss, sync = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "sync"
distributed = "RANK" in os.environ
torch.set_num_threads(1)
torch.manual_seed(0)
world = int(os.environ.get("WORLD_SIZE", "1"))
corpus = PolysemyCorpus(seed=0, num_train=32 * steps * world, num_val=1, num_test=1)
loader, _, _ = corpus.loaders(batch_size=32)
model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, max_length=64)
trainer = QuantumTrainer(model, "adamw", loss, {"distributed_training": distributed, "entanglement_sync": sync},
                         progress_bar=False)
trainer.train_epoch(trainer._shard(loader, training=True))  # warm up
start = time.perf_counter()
trainer.train_epoch(trainer._shard(loader, training=True))
elapsed = time.perf_counter() - start
if trainer.is_main_process:
    with open(out, "w") as stream:
        json.dump({"examples_per_second": 32 * steps * world / elapsed}, stream)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: name -> (processes, loss, entanglement_sync)
RUNS = {
    "1 process x 1 thread, quantum loss": (1, "quantum", False),
    "2 processes x 1 thread, quantum loss": (2, "quantum", False),
    "2 processes, entanglement loss": (2, "entanglement", False),
    "2 processes, entanglement loss + entanglement_sync": (2, "entanglement", True),
}


def rate(processes: int, steps: int, loss: str, sync: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        script, out = Path(folder) / "job.py", Path(folder) / "rate.json"
        script.write_text(JOB)
        job = [str(script), str(steps), str(out), loss, "sync" if sync else "no-sync"]
        if processes == 1:
            command = [sys.executable, *job]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
                       str(processes), "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *job]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        return json.loads(out.read_text())["examples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in RUNS}
    names = list(RUNS)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            processes, loss, sync = RUNS[name]
            rates[name].append(rate(processes, args.steps, loss, sync))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    one, two = medians[names[0]], medians[names[1]]
    print(f"medium QuantumClassifier, batch 32 per process, {args.steps} steps, median of {args.repeats}")
    for name, value in medians.items():
        print(f"{name:>52}: {value:7.1f} examples/s")
    print(f"scaling with 2 processes: {two / one:.2f}x (ideal 2.00x); entanglement_sync costs "
          f"{1 - medians[names[3]] / medians[names[2]]:.1%} of throughput")


if __name__ == "__main__":
    main()
