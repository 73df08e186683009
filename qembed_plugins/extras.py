"""The optional libraries of the built-in loggers, imported when a trainer builds one."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(module: str, extra: str) -> ModuleType:
    """``module``, or a ``ValueError`` saying which qembed extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"the {extra} logger needs {module} ({err}); install it with: "
                         f"pip install 'qembed[{extra}]'") from None
