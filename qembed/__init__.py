"""qembed: a PyTorch training framework for quantum-inspired embedding models.

``import qembed`` stays light: submodules (``qembed.plugins``, ``qembed.testing``,
...) load on first attribute access, and plugins load on the first lookup.
"""

from __future__ import annotations

import importlib
from typing import Any

from qembed.plugins.markers import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "hookspec"]

_LAZY_SUBMODULES = frozenset({"cli", "data", "inference", "metrics", "models", "nn", "testing", "training"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"qembed.{name}")
    raise AttributeError(f"module 'qembed' has no attribute {name!r}")
