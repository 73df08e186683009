"""Registers a schedule (``cosine_ramp``) and a loss (``focal``) with qembed, and
logs the trainer's lifecycle to ``events.csv`` in the trainer's ``log_dir``."""

from __future__ import annotations

import csv
import math

import torch
from torch import nn

from qembed import hookimpl


class CosineRampSchedule:
    """Collapse probability rising from 0 to 1 along half a cosine wave.

    Slow at both ends and fastest mid-run; ``power`` > 1 delays the rise.
    """

    start_value = 0.0
    end_value = 1.0

    def __init__(self, power: float = 1.0) -> None:
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power!r}")
        self.power = power

    def __call__(self, step: int, total_steps: int) -> float:
        if total_steps < 1 or not 0 <= step < total_steps:
            raise ValueError(f"need 0 <= step < total_steps, got step={step}, total_steps={total_steps}")
        if total_steps == 1:
            return 1.0
        progress = (step / (total_steps - 1)) ** self.power
        return min(1.0, max(0.0, 0.5 * (1.0 - math.cos(math.pi * progress))))


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy down-weighting easy examples by ``(1 - p_t)^gamma``."""

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        keep = labels != -100
        log_p = torch.log_softmax(logits.float()[keep], dim=-1).gather(1, labels[keep].unsqueeze(1)).squeeze(1)
        return -((1 - log_p.exp()) ** self.gamma * log_p).mean()


@hookimpl
def qembed_register_schedules():
    return {"cosine_ramp": CosineRampSchedule}


@hookimpl
def qembed_register_losses():
    return {"focal": FocalLoss}


def _record(trainer, event: str, step: int, detail: str = "") -> None:
    """Append one event to ``events.csv``: by the main process only, so a distributed
    run writes each event once."""
    if trainer.log_dir is None or not trainer.is_main_process:
        return
    trainer.log_dir.mkdir(parents=True, exist_ok=True)
    with open(trainer.log_dir / "events.csv", "a", newline="") as stream:
        csv.writer(stream).writerow([event, step, detail])


@hookimpl
def qembed_on_train_start(trainer):
    _record(trainer, "train_start", trainer.global_step)


@hookimpl
def qembed_on_log(trainer, step, metrics):
    _record(trainer, "log", step, f"{metrics['collapse_probability']:.6f}")


@hookimpl
def qembed_on_epoch_end(trainer, epoch, metrics):
    _record(trainer, "epoch_end", trainer.global_step, str(epoch))


@hookimpl
def qembed_on_train_end(trainer, history):
    _record(trainer, "train_end", trainer.global_step)
