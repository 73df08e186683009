"""``Monitor``: which history metric picks the best checkpoints and stops a run early.

As Lightning's ``ModelCheckpoint`` and ``EarlyStopping``: ``monitor`` names a metric of
the history (``"val_loss"``, ``"val_accuracy"``, ``"train_loss"``, ...), ``mode`` says
whether lower (``"min"``) or higher (``"max"``) is better, ``min_delta`` how much it must
improve to count, and ``save_top_k`` how many of the best checkpoint files to keep
(``-1`` all, ``0`` none). A score is the value turned lower-is-better, so the run's
state keeps one number for the best whatever the mode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from qembed.arguments import check_int, check_number
from qembed.plugins.errors import did_you_mean
from qembed.training import validation_metrics
from qembed.training.step_metrics import STEP_METRICS
from qembed.training.step_plan import StepPlan

MODES = ("min", "max")


@attrs.frozen
class Monitor:
    """What is watched and how; :meth:`checked` raises before anything trains."""

    metric: str
    mode: str = "min"
    min_delta: float = 0.0
    save_top_k: int = 1

    @classmethod
    def checked(cls, metric: str, mode: str, min_delta: float, save_top_k: int, produced: Iterable[str]) -> Monitor:
        """The monitor, or a ``ValueError`` naming the argument, its value and what was
        expected (a metric the run does not produce among them)."""
        names = sorted(produced)
        if not isinstance(metric, str) or metric not in names:
            hint = did_you_mean(metric, names) if isinstance(metric, str) else ""
            without_val = " (val_* metrics need a val_dataloader)" if (
                isinstance(metric, str) and metric.startswith("val_") and not any(n.startswith("val_") for n in names)
            ) else ""
            raise ValueError(f"monitor={metric!r} is not a metric this run produces{without_val}{hint}; "
                             f"it produces: {', '.join(names)}")
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} must be 'min' or 'max'")
        check_number("min_delta", min_delta, minimum=0.0, finite=True)
        check_int("save_top_k", save_top_k, minimum=-1)
        return cls(metric, mode, float(min_delta), save_top_k)

    def score(self, value: float) -> float:
        """``value`` as lower-is-better (NaN scores worst)."""
        if math.isnan(value):
            return math.inf
        return value if self.mode == "min" else -value

    def improves(self, score: float, best: float) -> bool:
        """Whether ``score`` beats the best by more than ``min_delta``."""
        return score < best - self.min_delta

    def filename(self, epoch: int, step: int, value: float) -> str:
        """A checkpoint's name, as Lightning's: ``epoch=3-step=120-val_loss=0.4123.pth``."""
        return f"epoch={epoch}-step={step}-{self.metric}={value:.4f}.pth"

    def keeps(self, score: float, kept: list[list[float | str]]) -> bool:
        """Whether a checkpoint scoring ``score`` joins the ``save_top_k`` kept ones."""
        if self.save_top_k == 0 or not math.isfinite(score):  # a NaN or infinite value is never among the best
            return False
        return self.save_top_k < 0 or len(kept) < self.save_top_k or score < max(float(s) for s, _ in kept)

    def admit(self, score: float, name: str, kept: list[list[float | str]]) -> list[str]:
        """Add ``name`` to ``kept`` (``[score, file name]`` pairs, best first); returns the
        names that fell out of the top k (their files are deleted)."""
        kept.append([score, name])
        kept.sort(key=lambda pair: float(pair[0]))
        if self.save_top_k < 0 or len(kept) <= self.save_top_k:
            return []
        dropped = kept[self.save_top_k:]
        del kept[self.save_top_k:]
        return [str(pair[1]) for pair in dropped]


def best_file(folder: Path | None, kept: list[list[float | str]]) -> Path | None:
    """The best kept checkpoint's path (``None`` when none is kept)."""
    return folder / str(kept[0][1]) if folder is not None and kept else None


def produced_metrics(*, validates: bool) -> set[str]:
    """The history metrics a run produces: the training epoch's, and with a val loader the
    validation's (``val_*``)."""
    training = {"train_loss", *(name for name in STEP_METRICS if name != "loss"), "collapse_probability", "lr",
                "nonfinite_steps"}
    return training | ({f"val_{name}" for name in validation_metrics.METRICS} if validates else set())


@attrs.define
class RunChecks:
    """What a running ``train`` call checks after its steps and epochs, and where it saves."""

    monitor: Monitor
    plan: StepPlan
    val_dataloader: Any
    folder: Path | None
    sampler: Any  # the train loader's sampler generator (its state goes into checkpoints)
    patience: int | None
    model_save_path: Any  # where save_best_model exports the model (None: no export)
    restore_best_weights: bool
    best_weights: dict[str, Any] | None = None
