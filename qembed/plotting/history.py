"""Curves of a training run from its ``history.json``: loss, accuracy, uncertainty,
quantum loss, collapse probability and entanglement, one panel each, per epoch."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from qembed.plotting.figures import marker_for, panel_grid

HISTORY_FILE = "history.json"
TRAIN, VALIDATION = "train", "validation"
COLORS = {TRAIN: "tab:blue", VALIDATION: "tab:orange"}
SUGGESTED_RUNS = 3


@dataclass(frozen=True)
class Panel:
    """One panel: the history keys it draws (each with its legend label, ``train``
    or ``validation``); ``unit_interval`` fixes the y axis to [0, 1];
    ``mark_minimum`` names a key whose lowest value gets a vertical line."""

    title: str
    ylabel: str
    curves: tuple[tuple[str, str], ...]
    unit_interval: bool = False
    mark_minimum: str | None = None


PANELS: tuple[Panel, ...] = (
    Panel("Loss", "loss (task + quantum terms)", (("train_loss", TRAIN), ("val_loss", VALIDATION)),
          mark_minimum="val_loss"),
    Panel("Accuracy", "accuracy", (("val_accuracy", VALIDATION),), unit_interval=True),
    Panel("Uncertainty", "sense entropy / log K", (("uncertainty", TRAIN), ("val_uncertainty", VALIDATION))),
    Panel("Quantum loss", "quantum terms of the loss", (("quantum_loss", TRAIN),)),
    Panel("Collapse probability", "mean over the epoch's steps", (("collapse_probability", TRAIN),),
          unit_interval=True),
    Panel("Entanglement", "entanglement entropy / log K",
          (("entanglement_strength", TRAIN), ("val_entanglement_strength", VALIDATION))),
)


def read_history(run: str | Path) -> dict[str, list[float]]:
    """The history a trainer saved: ``run`` is its run folder (its ``log_dir``,
    holding ``history.json``) or the JSON file itself. Raises ``ValueError`` with
    a one-line message for a missing folder, a missing or malformed file."""
    run = Path(run)
    if not run.exists():
        raise ValueError(f"run folder {str(run)!r} does not exist")
    path = run if run.is_file() else run / HISTORY_FILE
    if not path.is_file():
        raise ValueError(f"no {HISTORY_FILE} in {str(run)!r} (a trainer writes it into its log_dir)"
                         f"{_runs_inside(run)}")
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not valid JSON: {err}") from None
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise ValueError(f"{str(path)!r} is not a training history (a JSON object of per-epoch lists)")
    return history


def _runs_inside(folder: Path) -> str:
    """``'; run folders inside it: ...'`` naming the newest runs under ``folder``, or ``''``."""
    runs = sorted((p.parent for p in folder.glob(f"*/{HISTORY_FILE}")), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    if not runs:
        return ""
    return "; run folders inside it: " + ", ".join(repr(str(p)) for p in runs[:SUGGESTED_RUNS]) + (
        ", ..." if len(runs) > SUGGESTED_RUNS else "")


def plot_history(history: Mapping[str, Sequence[float]], title: str = "Training history") -> Figure:
    """A figure with a panel for each of :data:`PANELS` that the history has
    values for; epochs (numbered from 0, as the history and TensorBoard number them) on x, train and validation on the same axes.
    Raises ``ValueError`` when there is nothing to plot."""
    panels = [panel for panel in PANELS if any(history.get(key) for key, _ in panel.curves)]
    if not panels:
        keys = sorted({key for panel in PANELS for key, _ in panel.curves})
        raise ValueError(f"the history has no epoch to plot: it has no values for any of {', '.join(keys)}")
    drawn = [key for panel in panels for key, _ in panel.curves]
    _check_numbers(history, ["epoch", *drawn])
    epochs = _epochs(history)
    for key in drawn:
        if len(history.get(key) or ()) > len(epochs):
            raise ValueError(f"the history's {key!r} has {len(history[key])} values but 'epoch' only {len(epochs)}")
    figure, axes = panel_grid(len(panels), panel_size=(4.6, 3.4))
    for ax, panel in zip(axes, panels):
        _draw(ax, panel, history, epochs)
    figure.suptitle(f"{title} ({len(epochs)} epoch{'s' if len(epochs) != 1 else ''})", fontweight="bold")
    return figure


def _check_numbers(history: Mapping[str, Sequence[float]], keys: list[str]) -> None:
    """Raise ``ValueError`` naming the first of ``keys`` whose list holds something not a number."""
    for key in keys:
        for value in history.get(key) or ():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"the history's {key!r} holds {value!r}, not a number")


def _epochs(history: Mapping[str, Sequence[float]]) -> list[int]:
    """Epoch numbers from 0: the history's ``epoch`` when present."""
    if history.get("epoch"):
        return [int(epoch) for epoch in history["epoch"]]
    return list(range(max(len(values) for values in history.values())))


def _draw(ax: Axes, panel: Panel, history: Mapping[str, Sequence[float]], epochs: list[int]) -> None:
    for key, label in panel.curves:
        values = history.get(key)
        if values:
            # a key that appeared later in the run (validation added in a second train call) ends with it
            ax.plot(epochs[-len(values):], values, marker=marker_for(len(values)), markersize=4,
                    color=COLORS[label], label=label)
    if panel.mark_minimum and history.get(panel.mark_minimum):
        _mark_minimum(ax, panel.mark_minimum, history[panel.mark_minimum], epochs)
    ax.set_title(panel.title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(panel.ylabel)
    if len(epochs) == 1:  # a locator would tick fractions of an epoch around the one point
        ax.set_xticks(epochs)
        ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if panel.unit_interval:
        ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _mark_minimum(ax: Axes, key: str, values: Sequence[float], epochs: list[int]) -> None:
    """A dotted vertical line at the epoch where ``key`` is lowest (non-finite values ignored)."""
    finite = [(value, epoch) for value, epoch in zip(values, epochs[-len(values):]) if math.isfinite(value)]
    if finite:
        best = min(finite)[1]
        ax.axvline(best, color="grey", linestyle=":", label=f"lowest {key}: epoch {best}")
