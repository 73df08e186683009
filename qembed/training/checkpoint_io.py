"""Writing files so that a crash never leaves a torn one, and loading them safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically: a temporary file in the same folder,
    flushed and fsynced, then renamed over the target. A process killed at any
    moment leaves the old file or the new one, never a partial one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return target


def safe_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)``: tensors and plain data only; a file that
    carries code is refused and its code never runs."""
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(target)!r}")
    try:
        return torch.load(target, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError or RuntimeError for unsafe/foreign files
        raise ValueError(
            f"{str(target)!r} is not a checkpoint qembed can load safely (weights_only): {err}"
        ) from err
