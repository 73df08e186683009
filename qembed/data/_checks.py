"""Seeds shared by the ``qembed.data`` modules (argument checks live in ``qembed.arguments``)."""

from __future__ import annotations

import hashlib


#: The seeds ``torch.Generator.manual_seed`` accepts.
TORCH_SEED_RANGE = (-(2**63), 2**64 - 1)


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one ``purpose`` derived from ``seed``: stable across runs and platforms."""
    digest = hashlib.sha256(f"qembed.data:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
