"""qembed: a PyTorch training framework for quantum-inspired embedding models.

``import qembed`` stays light: submodules (``qembed.plugins``, ``qembed.testing``,
...) load on first attribute access, and plugins load on the first lookup.
"""

from __future__ import annotations

import importlib
from typing import Any

from qembed.plugins.markers import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "hookspec", "load"]

_LAZY_SUBMODULES = frozenset({"cli", "data", "inference", "metrics", "models", "nn", "testing", "training"})


def load(path: Any, *, device: Any = None) -> Any:
    """A saved model ready for inference on text (:class:`qembed.inference.Predictor`):
    ``path`` is a run folder of ``qembed train`` or a folder ``model.save_pretrained`` wrote."""
    from qembed.inference import load as load_predictor

    return load_predictor(path, device=device)


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"qembed.{name}")
    raise AttributeError(f"module 'qembed' has no attribute {name!r}")
