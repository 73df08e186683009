"""Every random number generator a run draws from, captured as tensors and plain
types (so a checkpoint loads with ``torch.load(weights_only=True)``) and restored
exactly."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture(sampler_generator: torch.Generator | None = None) -> dict[str, Any]:
    """torch (CPU and every CUDA device), Python ``random``, NumPy, and the loader's
    sampler generator when there is one."""
    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    numpy_keys = torch.from_numpy(keys.astype(np.int64))  # type: ignore[attr-defined]  # numpy's stubs: a dict or a tuple
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [version, list(internal), gauss],
        "numpy": [name, numpy_keys, int(position), int(has_gauss), float(cached)],
        "sampler": sampler_generator.get_state() if sampler_generator is not None else None,
    }


def restore(state: dict[str, Any], sampler_generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    if sampler_generator is not None and state["sampler"] is not None:
        sampler_generator.set_state(state["sampler"])


def fits(state: Any, sampler_generator: torch.Generator | None = None) -> bool:
    """Whether :func:`restore` can restore ``state`` (checked without changing any generator)."""
    try:
        version, internal, _ = state["python"]
        name, keys, position, _, _ = state["numpy"]
        torch_ok = _same_layout(state["torch"], torch.get_rng_state())
        cuda_ok = isinstance(state["cuda"], list) and all(isinstance(t, torch.Tensor) for t in state["cuda"])
        sampler = state["sampler"]
        sampler_ok = (sampler is None or sampler_generator is None
                      or _same_layout(sampler, sampler_generator.get_state()))
    except (KeyError, TypeError, ValueError):
        return False
    python_ok = isinstance(version, int) and isinstance(internal, list) and len(internal) == 625
    numpy_ok = (name == "MT19937" and isinstance(keys, torch.Tensor) and keys.numel() == 624
                and isinstance(position, int))
    return torch_ok and cuda_ok and sampler_ok and python_ok and numpy_ok


def _same_layout(saved: Any, own: torch.Tensor) -> bool:
    return isinstance(saved, torch.Tensor) and saved.dtype == own.dtype and saved.shape == own.shape


def sampler_generator(loader: Any) -> torch.Generator | None:
    """The generator that decides a loader's shuffling (its sampler's, or the loader's own)."""
    generator = getattr(getattr(loader, "sampler", None), "generator", None)
    return generator if generator is not None else getattr(loader, "generator", None)
