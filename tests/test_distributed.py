"""Two processes on torch.distributed (gloo), launched with torchrun, against one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
JOB = REPO_ROOT / "tests" / "distributed_job.py"


def torchrun(*arguments: str) -> subprocess.CompletedProcess:
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
              "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(JOB), *arguments]
    result = subprocess.run(launch, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("loss", ["cross_entropy", "entanglement"])
def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path, loss):
    """With the entanglement loss, entanglement_sync pools the pairs of both ranks, as the
    single process pools its global batch's pairs."""
    torchrun(str(tmp_path), "distributed", loss)
    single = subprocess.run([sys.executable, str(JOB), str(tmp_path), "single", loss], capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr

    rank0, rank1, alone = (torch.load(tmp_path / f"weights_{name}.pth", weights_only=True)
                           for name in ("distributed_rank0", "distributed_rank1", "single_single"))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # DDP keeps the ranks identical
        assert torch.allclose(rank0[key], alone[key], atol=1e-5), key
    histories = [json.loads((tmp_path / f"history_{name}.json").read_text())
                 for name in ("distributed_rank0", "distributed_rank1", "single_single")]
    assert histories[0] == histories[1]  # metrics are reduced across ranks
    # validation never synchronises per batch (ranks may hold different numbers of batches), so a
    # loss with entanglement terms pools its pairs per rank there: compare val_loss for cross-entropy only
    compared = ("train_loss", "val_accuracy", "val_nll") + (("val_loss",) if loss == "cross_entropy" else ())
    for key in compared:
        assert histories[0][key] == pytest.approx(histories[2][key], abs=1e-5), key
    # only rank 0 writes: one TensorBoard run, one set of checkpoints
    events = list((tmp_path / "logs").rglob("events.out.tfevents.*"))  # the second run writes logs/version_1
    assert len(events) == 2 and len({path.parent for path in events}) == 2  # the distributed run's and the single run's
    assert (tmp_path / "checkpoints" / "last.pth").is_file()


def test_per_rank_replay_is_checkpointed_per_rank_and_resumes_exactly_under_torchrun(tmp_path):
    full, interrupted = tmp_path / "full", tmp_path / "interrupted"
    torchrun(str(full), "replay-full")
    torchrun(str(interrupted), "replay-stopped")
    seeds = [int((full / f"seed_replay-full_rank{rank}.txt").read_text()) for rank in (0, 1)]
    assert seeds == [0, 1]  # quantum_sync: seed + rank
    part = torch.load(interrupted / "checkpoints" / "last.rank1.pth", weights_only=True)
    assert len(part["replay_state"]["examples"]) == 16  # rank 1's own buffer, full
    torchrun(str(interrupted), "replay-resumed")
    assert_same_run(full, "replay-full", interrupted, "replay-resumed")


def test_a_sigterm_on_one_rank_stops_every_rank_at_the_same_step_and_resumes_exactly(tmp_path):
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    torchrun(str(full), "replay-full")
    torchrun(str(stopped), "replay-sigterm")
    assert [(stopped / f"stopped_rank{rank}.txt").read_text() for rank in (0, 1)] == ["15 6", "15 6"]
    assert torch.load(stopped / "checkpoints" / "interrupted.pth", weights_only=True)["position"]["batches_done"] == 2
    assert (stopped / "checkpoints" / "interrupted.rank1.pth").is_file()
    torchrun(str(stopped), "replay-continued")
    assert_same_run(full, "replay-full", stopped, "replay-continued")


def assert_same_run(folder: Path, job: str, other_folder: Path, other_job: str) -> None:
    """Both jobs ended with the same weights on every rank and the same history."""
    for rank in ("rank0", "rank1"):
        expected = torch.load(folder / f"weights_{job}_{rank}.pth", weights_only=True)
        resumed = torch.load(other_folder / f"weights_{other_job}_{rank}.pth", weights_only=True)
        assert all(torch.equal(expected[k], resumed[k]) for k in expected), rank
    assert json.loads((folder / f"history_{job}_rank0.json").read_text()) == json.loads(
        (other_folder / f"history_{other_job}_rank0.json").read_text())
