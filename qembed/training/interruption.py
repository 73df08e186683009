"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM, and where in an epoch it stopped.

While ``train()`` runs in the main thread, both signals only set a flag: the current
optimizer step finishes, the loop stops at that step boundary, ``interrupted.pth`` is
written (with a checkpoint folder) and :class:`TrainingInterrupted` is raised. A second
signal stops at once (a plain interrupt anywhere in the step). The previous handlers
are restored when ``train()`` returns.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import torch
from torch import Tensor

from qembed.training.step_metrics import MetricSums

#: the signals ``train()`` stops cleanly on
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """``train()`` stopped on a signal; ``exit_code`` is 128 + its number (130 for
    SIGINT, 143 for SIGTERM), what a shell reports for a process the signal ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"training stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code(err: KeyboardInterrupt) -> int:
    """The exit code for an interrupted run: 128 + the signal (130 for a plain Ctrl-C)."""
    return err.exit_code if isinstance(err, TrainingInterrupted) else 128 + signal.SIGINT


class StopFlag:
    """The signal that asked the run to stop (``None`` while none did); a plain
    attribute the loop reads, so checking it never waits for the device."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # asked twice: stop now
            raise TrainingInterrupted(signum)
        self.signum = signum

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle :data:`STOP_SIGNALS` in the block (main thread only: elsewhere Python
        cannot install handlers and signals keep their previous behaviour)."""
        self.signum = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@attrs.define
class EpochPosition:
    """How far the running epoch got, at its last finished optimizer step: what a
    mid-epoch checkpoint needs to finish the epoch as if never stopped."""

    epoch: int
    batches_done: int  # loader batches consumed by finished optimizer steps
    sampler_at_start: Tensor | None  # the sampler generator's state before the epoch's iterator
    torch_at_start: Tensor  # the global CPU generator's state then (a loader may seed from it)
    epoch_sums: MetricSums  # the step metrics of the logging windows read so far
    window: MetricSums  # those of the window not yet read
    nonfinite: Tensor
    skipped_before: Tensor
    collapse_sum: float = 0.0
    batches_seen: int = 0

    def state_dict(self) -> dict[str, Any]:
        state = attrs.asdict(self, recurse=False)
        state["metric_names"] = list(self.epoch_sums.names)
        state["epoch_sums"], state["window"] = self.epoch_sums.sums.detach().clone(), self.window.sums.detach().clone()
        for key in ("nonfinite", "skipped_before"):
            state[key] = state[key].detach().clone()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], names: tuple[str, ...], device: torch.device) -> EpochPosition:
        """The position ``state`` saved, its metric sums matched to ``names`` by name (a
        metric the saving version did not have starts from zero; files without
        ``metric_names`` hold the metrics in ``names``' order)."""
        saved = tuple(state.get("metric_names", names))
        state = {key: value for key, value in state.items() if key != "metric_names"}

        def sums(key: str) -> MetricSums:
            columns = state[key].to(device)
            matched = torch.zeros(2, len(names), device=device)
            for index, name in enumerate(names):
                if name in saved:
                    matched[:, index] = columns[:, saved.index(name)]
            return MetricSums(names, device, matched)

        tensors = {key: state[key].to(device) for key in ("nonfinite", "skipped_before")}
        return cls(**{**state, **tensors, "epoch_sums": sums("epoch_sums"), "window": sums("window")})
