"""Writing files so that a crash never leaves a torn one, and loading them safely
(weights only, into a model whose parameters are checked against the file's)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


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
        reason = str(err).strip() or type(err).__name__  # an empty file gives an empty message
        raise ValueError(
            f"{str(target)!r} is not a checkpoint qembed can load safely (weights_only): {reason}"
        ) from err


def load_model_state(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Tensor]:
    """The model weights in a file: a qembed model file or training checkpoint (their
    ``model_state``) or a bare ``state_dict``, loaded safely."""
    state = safe_load(path, map_location=map_location)
    if isinstance(state, dict) and "model_state" in state:
        state = state["model_state"]
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} holds neither a qembed checkpoint nor a state_dict")
    return state


def _first_few(items: list[str], shown: int = 5) -> str:
    more = f" (and {len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def load_state_dict_checked(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """``model.load_state_dict(state)``, or an error naming the parameters that differ."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        details = []
        if reshaped:
            details.append("different shapes: " + _first_few(
                [f"{k} {tuple(state[k].shape)} in the file vs {tuple(own[k].shape)} in the model" for k in reshaped]))
        if missing:
            details.append("missing from the file: " + _first_few(missing))
        if unexpected:
            details.append("not in the model: " + _first_few(unexpected))
        raise ValueError(f"{source} does not fit this model; " + "; ".join(details))
    model.load_state_dict(state)
