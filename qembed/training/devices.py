"""Device choice, batch transfer and mixed-precision settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import attrs
import torch


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` picks CUDA when available, else the CPU; anything else is checked."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a torch device: {err}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available here")
    return resolved


def to_device(value: Any, device: torch.device) -> Any:
    """Move tensors (also inside dicts, lists and tuples) to ``device`` without waiting."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return type(value)(to_device(item, device) for item in value)  # type: ignore[call-arg]  # list and tuple take an iterable
    return value


@attrs.frozen
class Precision:
    """What ``mixed_precision`` resolves to on a device."""

    dtype: torch.dtype | None  # autocast dtype, None when off
    device_type: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 ones do not."""
        return self.dtype is torch.float16

    def autocast(self) -> AbstractContextManager[Any]:
        """Autocast to the dtype; when off, nothing at all, so an autocast the caller
        opened (Lightning's, Accelerate's) stays in force."""
        if not self.enabled:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self, guard_nonfinite: bool) -> torch.amp.GradScaler:
        """fp16: the usual dynamic loss scaling. Otherwise, when non-finite steps are
        guarded, a scaler that starts at 1.0 and only ever moves by powers of two
        (exact), used for its skipping of steps whose gradients are not finite."""
        if self.needs_grad_scaler:
            return torch.amp.GradScaler(self.device_type)
        return torch.amp.GradScaler(self.device_type, init_scale=1.0, growth_interval=2**31 - 1,
                                    enabled=guard_nonfinite)

    @classmethod
    def resolve(cls, setting: bool | str, device: torch.device) -> Precision:
        """``False``: off; ``True``: bf16 on the CPU, on CUDA bf16 where supported else
        fp16; ``"bf16"`` / ``"fp16"``: that dtype."""
        if setting is False:
            return cls(None, device.type)
        if setting is True:
            if device.type == "cuda" and not torch.cuda.is_bf16_supported():
                return cls(torch.float16, device.type)
            return cls(torch.bfloat16, device.type)
        return cls({"bf16": torch.bfloat16, "fp16": torch.float16}[setting], device.type)
