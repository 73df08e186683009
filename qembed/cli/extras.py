"""Optional dependencies of commands: a missing one is a one-line error, not a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_extra(module: str) -> ModuleType:
    """Import ``module``, which needs an optional extra (matplotlib, Hypothesis).

    Its ``ImportError`` (``... install it with: pip install 'qembed[plot]'``) becomes a
    ``ValueError``, which the command line reports in one line with exit code 2.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ValueError(str(err)) from None
