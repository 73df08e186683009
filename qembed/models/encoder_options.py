"""``EncoderOptions``: every option of a :class:`~qembed.models.QuantumEncoder` but the
vocabulary, written once for the encoder and every model built on it.

:func:`takes_encoder_options` gives a constructor these options as its own arguments, so
``QuantumClassifier(vocab_size, num_labels, embedding_dim=..., num_states=..., ...)``
keeps its signature while a new option or default is added in one place.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class EncoderOptions:
    """The encoder's shape, then its ablation switches (keyword-only); see
    :class:`~qembed.models.QuantumEncoder` for what each does. Checked by the encoder."""

    embedding_dim: int = 64
    num_states: int = 4
    num_layers: int = 2
    num_heads: int = 4
    max_length: int = 512
    entanglement: str = "dense"
    dropout: float = 0.1
    top_k: int = attrs.field(default=16, kw_only=True)
    collapse_strategy: Any = attrs.field(default="context_aware", kw_only=True)
    context_window: int | None = attrs.field(default=None, kw_only=True)
    eval_collapse: bool | str = attrs.field(default="expected", kw_only=True)
    contextual: bool = attrs.field(default=True, kw_only=True)
    collapse: bool = attrs.field(default=True, kw_only=True)


def takes_encoder_options(init: Callable[..., None]) -> Callable[..., None]:
    """Decorate ``__init__(self, *own, options: EncoderOptions)``: it is called as
    ``__init__(self, *own, <every EncoderOptions field>)`` and shows that signature to
    ``inspect`` (the CLI reads a model's options from it)."""
    signature = inspect.signature(init)
    own = list(signature.parameters.values())[:-1]
    public = signature.replace(parameters=[*own, *inspect.signature(EncoderOptions).parameters.values()])

    @functools.wraps(init)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        bound = public.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        init(*(arguments.pop(parameter.name) for parameter in own), EncoderOptions(**arguments))

    wrapper.__signature__ = public  # type: ignore[attr-defined]
    return wrapper
