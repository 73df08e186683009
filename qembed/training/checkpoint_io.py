"""Writing files so that a crash never leaves a torn one, and loading them safely
(checksum verified, weights only, into a model whose parameters are checked against
the file's).

A file :func:`atomic_save` writes is the payload, what ``torch.save`` wrote, followed
by a 54-byte trailer: ``MAGIC``, the payload's sha256 and its length. ``torch.load``
still reads the file (a zip archive ignores what follows it); :func:`safe_load`
verifies the trailer before ``torch.load`` reads a byte of the payload. A file without
the trailer (written before qembed checksummed its files, or by ``torch.save``
directly) is loaded as it is, without a checksum to verify.
"""

from __future__ import annotations

import errno
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

MAGIC = b"QEMBED-SHA256\n"
_DIGEST_BYTES = 32
_LENGTH_BYTES = 8
TRAILER_BYTES = len(MAGIC) + _DIGEST_BYTES + _LENGTH_BYTES


class CheckpointIntegrityError(ValueError):
    """A file's payload does not match the checksum written with it, or it is cut short."""


#: Write errors named in words a user acts on (the rest pass through as they are).
_SAYS_WHY = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system"}


def atomic_write_bytes(path: str | os.PathLike[str], *chunks: bytes | memoryview) -> Path:
    """Write ``chunks`` to ``path`` atomically: a uniquely named temporary file in the
    same folder (``tempfile.mkstemp``, never a fixed name a planted link could
    redirect), flushed and fsynced, then renamed over the target and the folder
    fsynced. A process killed at any moment leaves the old file or the new one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException as err:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _SAYS_WHY:
            raise OSError(err.errno, f"{_SAYS_WHY[err.errno]}: cannot write {target} (the file that was there, "
                                     "if any, is kept)") from err
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return target


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically, followed by a trailer holding the payload's
    sha256 and length (see the module's docstring)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getbuffer()
    trailer = MAGIC + hashlib.sha256(payload).digest() + len(payload).to_bytes(_LENGTH_BYTES, "big")
    return atomic_write_bytes(path, payload, trailer)


def verified_payload(data: bytes, source: Path) -> memoryview | None:
    """The payload of a checksummed file, verified; ``None`` for a file without the trailer."""
    trailer = data[-TRAILER_BYTES:]
    if not trailer.startswith(MAGIC):
        if len(trailer) == TRAILER_BYTES and _nearly(trailer[: len(MAGIC)], MAGIC):
            raise _corrupt(source, "its checksum trailer is damaged")
        if data.rfind(MAGIC, max(0, len(data) - 2 * TRAILER_BYTES)) >= 0 or any(
                data.endswith(MAGIC[:end]) for end in range(1, len(MAGIC))):  # a torch file ends in b"\0\0"
            raise _corrupt(source, "it is truncated: its checksum trailer is cut short")
        return None  # written before qembed checksummed its files
    digest = trailer[len(MAGIC): len(MAGIC) + _DIGEST_BYTES]
    length = int.from_bytes(trailer[len(MAGIC) + _DIGEST_BYTES:], "big")
    payload = memoryview(data)[: len(data) - TRAILER_BYTES]
    if len(payload) != length:
        cut = "truncated" if len(payload) < length else "longer than written"
        raise _corrupt(source, f"it is {cut}: its checksum trailer records {length} bytes of payload, the file "
                               f"holds {len(payload)}")
    if hashlib.sha256(payload).digest() != digest:
        raise _corrupt(source, "the sha256 of its payload does not match the checksum written with it")
    return payload


def _nearly(found: bytes, expected: bytes) -> bool:
    """Whether ``found`` differs from ``expected`` in at most two bytes (a damaged header)."""
    return sum(a != b for a, b in zip(found, expected)) <= 2


def _corrupt(source: Path, what: str) -> CheckpointIntegrityError:
    return CheckpointIntegrityError(f"{str(source)!r} is corrupted, {what}; it was not loaded (use another "
                                    "checkpoint, e.g. last.pth or a best epoch=...pth, or retrain)")


def safe_load(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """Verify a file's checksum, then ``torch.load(weights_only=True)`` its payload:
    tensors and plain data only; a file that carries code is refused and its code never runs."""
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(target)!r}")
    data = target.read_bytes()
    payload = verified_payload(data, target)
    try:
        return torch.load(io.BytesIO(data if payload is None else payload), map_location=map_location,
                          weights_only=True)
    except Exception as err:  # torch raises UnpicklingError or RuntimeError for unsafe/foreign files
        reason = str(err).strip() or type(err).__name__  # an empty file gives an empty message
        unchecked = "" if payload is not None else " (it has no qembed checksum: a foreign, truncated or damaged file)"
        raise ValueError(
            f"{str(target)!r} is not a checkpoint qembed can load safely (weights_only){unchecked}: {reason}"
        ) from err


def first_nonfinite(state: Any, name: str) -> str | None:
    """The name of the first floating-point tensor in ``state`` (nested dicts, lists and
    tuples) holding a NaN or an infinity, or ``None``. Meant for loading, never the hot path."""
    if isinstance(state, Tensor):
        if state.is_floating_point() or state.is_complex():
            return None if bool(torch.isfinite(state).all()) else name
        return None
    if isinstance(state, float):
        return None if math.isfinite(state) else name
    items: Iterable[tuple[Any, Any]]
    if isinstance(state, Mapping):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return None
    for key, value in items:
        found = first_nonfinite(value, f"{name}[{key!r}]" if not isinstance(key, str) else f"{name}.{key}")
        if found is not None:
            return found
    return None


def check_finite(state: Any, name: str, source: str) -> None:
    """An error naming the tensor when ``state`` holds a NaN or an infinity."""
    found = first_nonfinite(state, name)
    if found is not None:
        raise ValueError(f"{source} holds non-finite values (NaN or inf) in {found}; it was not loaded")


def load_model_state(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Tensor]:
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


def check_state_dict_fits(model: nn.Module, state: Any, source: str) -> None:
    """An error naming the parameters that differ when ``state`` does not fit ``model``."""
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{source} holds no model state_dict (a mapping of names to tensors)")
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


def load_state_dict_checked(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """``model.load_state_dict(state)``, or an error naming the parameters that differ
    or the tensor holding a non-finite value (the model is then left as it was)."""
    check_state_dict_fits(model, state, source)
    check_finite(state, "model_state", source)
    model.load_state_dict(state)
