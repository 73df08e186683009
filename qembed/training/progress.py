"""The per-epoch progress bar (tqdm).

On a terminal it refreshes a few times a second at most. When stderr is not a
terminal (CI logs, files) there is no bar: one summary line per epoch is written
instead, so logs are not flooded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from tqdm.auto import tqdm


class EpochProgress:
    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self.enabled = enabled
        self.description = description
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self.latest: dict[str, str] = {}
        interactive = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=description, mininterval=0.25, dynamic_ncols=True,
                        file=sys.stderr) if interactive else None

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
        elif self.enabled:
            elapsed = time.perf_counter() - self.started
            shown = "".join(f", {k}={v}" for k, v in self.latest.items())
            tqdm.write(f"{self.description}: {self.done}/{self.total} batches in {elapsed:.1f}s{shown}", file=sys.stderr)
