"""A grid of panels and saving a figure: what every qembed plot shares."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

MAX_COLUMNS = 3
MAX_MARKED_POINTS = 60  # up to this many points a curve marks each one; beyond, markers clutter
DPI = 110


def panel_grid(count: int, panel_size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """A figure with ``count`` panels, at most :data:`MAX_COLUMNS` a row, each
    ``panel_size`` inches; the unused cells of the last row are removed."""
    columns = min(count, MAX_COLUMNS)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for unused in axes[count:]:
        unused.remove()
    return figure, axes[:count]


def marker_for(points: int) -> str:
    """``"o"`` for a curve short enough to mark each point, else no marker."""
    return "o" if points <= MAX_MARKED_POINTS else ""


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix: .png, .svg, .pdf, ...; a
    path without one gets ``.png``, as matplotlib does), creating missing folders;
    returns the path written."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(f"{path.name}.png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:  # a file stands where a folder is needed
        raise ValueError(f"cannot write {str(path)!r}: {err.filename!r} is a file, not a folder") from None
    figure.savefig(path, dpi=DPI)
    return path
