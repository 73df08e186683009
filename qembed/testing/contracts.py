"""The contract check of every plugin kind, to check any registered component."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qembed.plugins import KINDS
from qembed.testing.clipping import check_clipping
from qembed.testing.collapse import check_collapse
from qembed.testing.loggers import check_logger
from qembed.testing.losses import check_loss
from qembed.testing.lr_schedulers import check_lr_scheduler
from qembed.testing.optimizers import check_optimizer
from qembed.testing.replay import check_replay
from qembed.testing.schedules import check_schedule

CHECKS: dict[str, Callable[..., None]] = {
    "schedules": check_schedule,
    "losses": check_loss,
    "optimizers": check_optimizer,
    "clipping": check_clipping,
    "replay": check_replay,
    "collapse": check_collapse,
    "lr_schedulers": check_lr_scheduler,
    "loggers": check_logger,
}


def check_component(kind: str, factory: Callable[..., Any], /, *, max_examples: int | None = None,
                    **options: Any) -> None:
    """Run the contract check of ``kind`` (one of :data:`qembed.plugins.KINDS`) on
    ``factory`` and its ``options``; ``max_examples`` ``None`` keeps the check's own
    default. Raises ``AssertionError`` with the failing input."""
    if kind not in CHECKS:
        raise ValueError(f"no contract check for kind {kind!r}; kinds: {', '.join(KINDS)}")
    examples = {} if max_examples is None else {"max_examples": max_examples}
    CHECKS[kind](factory, **examples, **options)
