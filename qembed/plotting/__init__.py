"""Figures of a training run, of superposition schedules and of each token's senses in
context, drawn with matplotlib.

Each function returns a ``matplotlib.figure.Figure`` (no pyplot, so no global state
and no backend is touched) that :func:`save_figure` writes to a file::

    from qembed.plotting import plot_history, read_history, save_figure

    figure = plot_history(read_history("runs/demo-20250101-120000"))
    save_figure(figure, "curves.png")

matplotlib is an optional dependency (``pip install 'qembed[plot]'``); ``import
qembed`` never imports it.
"""

try:
    import matplotlib  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("plotting needs matplotlib; install it with: pip install 'qembed[plot]'") from err

from qembed.plotting.figures import save_figure
from qembed.plotting.history import HISTORY_FILE, PANELS, Panel, plot_history, read_history
from qembed.plotting.schedules import plot_schedules
from qembed.plotting.senses import SenseSentence, sense_heatmap

__all__ = ["HISTORY_FILE", "PANELS", "Panel", "SenseSentence", "plot_history", "plot_schedules", "read_history",
           "save_figure", "sense_heatmap"]
