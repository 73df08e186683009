"""Progress bars for an epoch's training and validation passes (``tqdm.auto``).

Where output is interactive the bar is ``tqdm.auto``'s choice: the notebook widget in
Jupyter, a terminal bar on a TTY (refreshed a few times a second at most). Elsewhere (CI
logs, files) there is no bar: a training pass writes one summary line instead, so logs
are not flooded, and a validation pass writes nothing (the epoch table shows its result).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm


def interactive() -> bool:
    """Whether a bar can redraw in place: a Jupyter widget, or stderr on a terminal."""
    return issubclass(tqdm, notebook_tqdm) or sys.stderr.isatty()


class EpochProgress:
    """A bar over ``total`` batches; ``summary``: off an interactive output, write one line at the end."""

    def __init__(self, enabled: bool, total: int, description: str, *, summary: bool = True) -> None:
        self.enabled = enabled
        self.summary = summary
        self.description = description
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self.latest: dict[str, str] = {}
        self.bar = tqdm(total=total, desc=description, mininterval=0.25, dynamic_ncols=True,
                        file=sys.stderr, leave=summary) if enabled and interactive() else None

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)

    def show(self, metrics: Mapping[str, float]) -> None:
        """Show the latest metrics (called when they have been read anyway)."""
        self.latest = {k: f"{v:.4g}" for k, v in metrics.items()}
        if self.bar is not None:
            self.bar.set_postfix(self.latest, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.summary:
            elapsed = time.perf_counter() - self.started
            shown = "".join(f", {k}={v}" for k, v in self.latest.items())
            tqdm.write(f"{self.description}: {self.done}/{self.total} batches in {elapsed:.1f}s{shown}", file=sys.stderr)
