"""Refuse host reads of tensor values, to prove code never syncs with a device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch


@contextlib.contextmanager
def host_reads_refused() -> Iterator[None]:
    """Fail on any read of a tensor's value on the host (a device sync on GPU)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a tensor's value was read on the host")

    with pytest.MonkeyPatch.context() as patch:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
            patch.setattr(torch.Tensor, name, refuse)
        yield
