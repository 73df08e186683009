"""Each token's senses in context: a heatmap of its sense probabilities (one row per
token, one column per sense) with the token's uncertainty beside it, one panel per
sentence, so the same word in two sentences can be seen picking different senses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from qembed.plotting.figures import save_figure

#: One sentence to draw: ``(tokens, sense_probabilities [T, K], token_uncertainty [T], title)``;
#: the arrays may be NumPy arrays, nested lists or CPU tensors.
SenseSentence = tuple[Sequence[str], Any, Any, str]

ROW_INCHES = 0.3  # height of one token's row
SENSE_INCHES = 0.7  # width of one sense's column
PANEL_MARGIN_INCHES = 1.1  # title and axis labels of a panel
MAX_ANNOTATED_CELLS = 400  # up to this many cells each shows its probability; beyond, the numbers clutter
PROBABILITY_SLACK = 1e-3  # probabilities from a low-precision forward may stray this far from [0, 1]


def sense_heatmap(sentences: Sequence[SenseSentence], *, path: str | Path | None = None) -> Figure:
    """A figure with one panel per sentence: the heatmap of its tokens' sense probabilities
    (its axes' first image is the ``[T, K]`` array), the tokens' uncertainty as bars on the
    same rows, and the sentence's title above (the predicted label and predictive
    uncertainty, say). With ``path`` the figure is also written there (PNG, SVG, ... by the
    suffix). Raises ``ValueError`` naming the sentence and what does not fit."""
    checked = [_checked(index, sentence) for index, sentence in enumerate(sentences)]
    if not checked:
        raise ValueError("no sentence to draw: give at least one (tokens, sense_probabilities, uncertainty, title)")
    heights = [len(tokens) * ROW_INCHES + PANEL_MARGIN_INCHES for tokens, *_ in checked]
    senses = max(probabilities.shape[1] for _, probabilities, _, _ in checked)
    figure = Figure(figsize=(4.5 + SENSE_INCHES * senses, sum(heights)), layout="constrained")
    panels = figure.subfigures(len(checked), 1, height_ratios=heights, squeeze=False)[:, 0]
    for panel, (tokens, probabilities, uncertainty, title) in zip(panels, checked):
        heat, bars = panel.subplots(1, 2, sharey=True, width_ratios=[max(probabilities.shape[1], 2), 1.5])
        image = heat.imshow(probabilities, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        heat.set_yticks(range(len(tokens)), tokens)
        heat.set_xticks(range(probabilities.shape[1]), [str(k) for k in range(probabilities.shape[1])])
        heat.set_xlabel("sense")
        if probabilities.size <= MAX_ANNOTATED_CELLS:
            for (row, column), value in np.ndenumerate(probabilities):
                heat.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize="x-small",
                          color="white" if value < 0.5 else "black")
        bars.barh(range(len(tokens)), uncertainty, color="tab:orange")
        bars.set_xlim(0.0, max(1.0, float(uncertainty.max())))
        bars.set_xlabel("uncertainty")
        bars.tick_params(labelleft=False)
        bars.grid(axis="x", alpha=0.3)
        panel.colorbar(image, ax=[heat, bars], label="sense probability", shrink=0.9)
        panel.suptitle(title, fontweight="bold")
    if path is not None:
        save_figure(figure, path)
    return figure


def _checked(index: int, sentence: Any) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """A sentence as ``(tokens, [T, K] float array, [T] float array, title)``, or the
    ``ValueError`` naming what does not fit."""
    if not isinstance(sentence, (tuple, list)) or len(sentence) != 4:
        raise ValueError(f"sentence {index} must be (tokens, sense_probabilities, token_uncertainty, title), "
                         f"got {type(sentence).__name__}")
    tokens, probabilities, uncertainty, title = sentence
    where = f"sentence {index} ({title!r})"
    if isinstance(tokens, str) or not all(isinstance(token, str) for token in tokens):
        raise ValueError(f"{where}: tokens must be a sequence of strings, got {tokens!r:.80}")
    tokens = list(tokens)
    probabilities, uncertainty = _array(probabilities), _array(uncertainty)
    if not tokens:
        raise ValueError(f"{where} has no tokens")
    if probabilities.ndim != 2 or probabilities.shape[0] != len(tokens) or probabilities.shape[1] < 1:
        raise ValueError(f"{where}: sense_probabilities must be [T, K] with T = {len(tokens)} tokens, got shape "
                         f"{probabilities.shape}")
    if uncertainty.shape != (len(tokens),):
        raise ValueError(f"{where}: token_uncertainty must be [T] with T = {len(tokens)} tokens, got shape "
                         f"{uncertainty.shape}")
    for name, values in (("sense_probabilities", probabilities), ("token_uncertainty", uncertainty)):
        if not np.isfinite(values).all() or values.min() < -PROBABILITY_SLACK:
            raise ValueError(f"{where}: {name} must be finite and >= 0")
    if probabilities.max() > 1 + PROBABILITY_SLACK:
        raise ValueError(f"{where}: sense_probabilities must be in [0, 1], got a maximum of "
                         f"{probabilities.max():.4g}")
    return tokens, probabilities.clip(0.0, 1.0), uncertainty.clip(0.0, math.inf), str(title)


def _array(values: Any) -> np.ndarray:
    """``values`` as a float NumPy array (a tensor through its CPU copy)."""
    if hasattr(values, "detach"):  # a torch tensor, on any device (plotting imports no torch)
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)
