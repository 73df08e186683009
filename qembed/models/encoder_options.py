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

from qembed.models.init_options import record_init_options


@attrs.frozen
class EncoderOptions:
    """The encoder's options; see :class:`~qembed.models.QuantumEncoder` for what each
    does. Checked by the encoder."""

    embedding_dim: int = 64
    num_states: int = 4
    num_layers: int = 2
    num_heads: int = 4
    max_length: int = 512
    entanglement: str = "auto"
    top_k: int = 16
    dropout: float = 0.1
    collapse_strategy: Any = "context_aware"
    context_window: int | None = None
    eval_collapse: bool | str = "expected"
    contextual: bool = True
    collapse: bool = True
    # last: the encoder takes every option positionally, in this order. The blocks' attention and
    # activation dropout; None: ``dropout``, as before they were options. Both at 0 train faster (the
    # two largest dropout sites; attention without dropout is one fused CPU kernel), but in the science
    # benchmark accuracy on little data came out lower (not resolved by 5 seeds) and nothing came out
    # better (benchmarks/README.md, "Dropout sites"), so None stays.
    attention_dropout: float | None = None
    activation_dropout: float | None = None


#: the options a model built on the encoder takes positionally, after its own arguments
#: (the rest are keyword-only), as its constructor always has
MODEL_POSITIONAL = ("embedding_dim", "num_states", "num_layers", "num_heads", "max_length", "entanglement", "dropout")


def takes_encoder_options(*positional: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate ``__init__(self, *own, options: EncoderOptions)``: it is called as
    ``__init__(self, *own, <every EncoderOptions field>)``, the fields named in
    ``positional`` positionally in that order and the others by keyword only, and shows that
    signature to ``inspect`` (the CLI reads a model's options from it). The model records
    its arguments (:func:`~qembed.models.init_options.record_init_options`)."""
    fields = inspect.signature(EncoderOptions).parameters

    def decorate(init: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(init).parameters.values())[:-1]
        options = [fields[name].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in positional]
        options += [field.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                    for name, field in fields.items() if name not in positional]
        public = inspect.signature(init).replace(parameters=[*own, *options])

        @functools.wraps(init)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            bound = public.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            model = arguments.pop(own[0].name)  # self
            init(model, *(arguments[parameter.name] for parameter in own[1:]),
                 EncoderOptions(**{name: arguments[name] for name in fields}))
            record_init_options(model, wrapper, arguments)

        wrapper.__signature__ = public  # type: ignore[attr-defined]
        return wrapper

    return decorate
