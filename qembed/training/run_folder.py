"""Where a new run writes: its ``log_dir``, or a fresh ``version_N`` folder inside it.

A run started in a ``log_dir`` that already holds files (an earlier run's TensorBoard
events and ``history.json``) writes into ``log_dir/version_1``, then ``version_2``, ...
(Lightning's convention), so two runs never share an event file or overwrite each
other's history. A resumed run keeps writing into the folder it came from.
"""

from __future__ import annotations

import re
from pathlib import Path

from qembed.training.run_lock import LOCK_NAME

VERSION = re.compile(r"version_(\d+)")


def new_run_folder(log_dir: Path) -> Path:
    """``log_dir`` when it is missing or empty (a lock file left by a finished run does
    not count), else ``log_dir/version_N`` with N one more than the highest there."""
    if not log_dir.is_dir() or all(entry.name == LOCK_NAME for entry in log_dir.iterdir()):
        return log_dir
    taken = [int(match[1]) for entry in log_dir.iterdir() if (match := VERSION.fullmatch(entry.name))]
    return log_dir / f"version_{max(taken, default=0) + 1}"


def is_version_folder(path: Path) -> bool:
    """Whether ``path`` is named as :func:`new_run_folder` names a run's own folder."""
    return VERSION.fullmatch(path.name) is not None
