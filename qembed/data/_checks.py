"""Seeds and small helpers shared by the ``qembed.data`` modules (argument checks live in ``qembed.arguments``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable


#: The seeds ``torch.Generator.manual_seed`` accepts.
TORCH_SEED_RANGE = (-(2**63), 2**64 - 1)


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one ``purpose`` derived from ``seed``: stable across runs and platforms."""
    digest = hashlib.sha256(f"qembed.data:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for close matches of ``word``: ``qembed.plugins.errors.did_you_mean``,
    imported when called (``qembed.data`` imports only ``qembed.arguments`` at import time)."""
    from qembed.plugins.errors import did_you_mean as suggest

    return suggest(word, candidates)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` with ``qembed.training.checkpoint_io.atomic_write_bytes``
    (imported when called, as above): a crash leaves the old file or the new one."""
    from qembed.training.checkpoint_io import atomic_write_bytes

    atomic_write_bytes(path, data)
