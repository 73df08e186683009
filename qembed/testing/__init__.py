"""Contract checks for plugin authors, built on Hypothesis.

Run them from your own test suite on the components your plugin registers::

    from qembed.testing import check_schedule
    from my_pkg.schedules import WarmupSchedule

    def test_warmup_schedule_honours_the_contract():
        check_schedule(WarmupSchedule, warmup_steps=10)

They need Hypothesis (``pip install 'qembed[testing]'``).
"""

try:
    import hypothesis  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "qembed.testing needs Hypothesis; install it with: pip install 'qembed[testing]'"
    ) from err

from qembed.testing.clipping import check_clipping
from qembed.testing.collapse import check_collapse
from qembed.testing.contracts import check_component
from qembed.testing.loggers import check_logger
from qembed.testing.losses import check_loss
from qembed.testing.lr_schedulers import check_lr_scheduler
from qembed.testing.optimizers import check_optimizer
from qembed.testing.plugins import temporary_plugin
from qembed.testing.replay import check_replay
from qembed.testing.schedules import check_schedule

__all__ = [
    "check_clipping",
    "check_collapse",
    "check_component",
    "check_logger",
    "check_loss",
    "check_lr_scheduler",
    "check_optimizer",
    "check_replay",
    "check_schedule",
    "temporary_plugin",
]
