"""Multi-process training on torch.distributed, launched with ``torchrun``.

``distributed_training=True`` joins the process group torchrun describes (gloo on
the CPU, NCCL on CUDA), wraps the model in ``DistributedDataParallel``, gives the
training loader a ``DistributedSampler`` (reshuffled per epoch with ``set_epoch``)
and the validation loader a sampler that visits every example exactly once across
the ranks (no padded duplicates). Metrics are summed or averaged across ranks;
only rank 0 writes TensorBoard, checkpoints and the progress bar.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler

from qembed.training.config import ConfigError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: every example on exactly one rank, no padding."""

    def __init__(self, size: int, rank: int, world_size: int) -> None:
        self.indices = range(rank, size, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class Distributed:
    """This process's place in a torchrun job."""

    def __init__(self) -> None:
        missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
        if missing:
            raise ConfigError(
                "quantum_training_config['distributed_training'] = True needs the environment torchrun sets up "
                "(missing "
                f"{', '.join(missing)}); launch with: torchrun --nproc_per_node 2 your_script.py "
                "(and --nnodes / --node_rank / --master_addr for several machines)"
            )
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            # the group qembed opened is closed at exit: a rank leaving with it open can abort the job
            atexit.register(_close_process_group)
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.local_rank = int(os.environ["LOCAL_RANK"])

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device | None) -> torch.device:
        if requested is not None:
            return requested
        return torch.device(f"cuda:{self.local_rank}") if torch.cuda.is_available() else torch.device("cpu")

    def wrap(self, model: torch.nn.Module, device: torch.device) -> DistributedDataParallel:
        """DDP that tolerates parameters a step leaves unused (a context projection its
        collapse strategy never reads, say)."""
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                       find_unused_parameters=True)

    def training_loader(self, loader: Any, seed: int) -> Any:
        """``loader`` with a ``DistributedSampler`` (shuffled when it was)."""
        if not isinstance(loader, DataLoader):
            raise ValueError("distributed_training needs torch DataLoaders (to shard them), "
                             f"got {type(loader).__name__}")
        sampler: DistributedSampler[Any] = DistributedSampler(loader.dataset, self.world_size, self.rank,
                                     shuffle=isinstance(loader.sampler, RandomSampler), seed=seed)
        return _rebuilt(loader, sampler)

    def evaluation_loader(self, loader: Any) -> Any:
        if not isinstance(loader, DataLoader):
            raise ValueError("distributed_training needs torch DataLoaders (to shard them), "
                             f"got {type(loader).__name__}")
        return _rebuilt(loader, ShardSampler(len(loader.dataset), self.rank, self.world_size))  # type: ignore[arg-type]  # a DataLoader's dataset is sized here

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.sum(tensor) / self.world_size


def _close_process_group() -> None:
    if dist.is_initialized():
        dist.barrier()  # no rank tears the group down while another still talks to it
        dist.destroy_process_group()


def _rebuilt(loader: DataLoader[Any], sampler: Sampler[Any]) -> DataLoader[Any]:
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, collate_fn=loader.collate_fn,
                      num_workers=loader.num_workers, pin_memory=loader.pin_memory, drop_last=loader.drop_last)
