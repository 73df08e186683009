"""A model's constructor arguments, recorded as it is built, so that a saved model
folder can rebuild it (:meth:`~qembed.models.PretrainedModel.save_pretrained`).

Only the constructor of the model's own class records: a subclass whose ``__init__``
takes other arguments records nothing unless it is decorated too, so a recorded set is
always one that rebuilds ``type(model)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

#: the instance attribute holding the recorded arguments
ATTRIBUTE = "_qembed_init_options"


def record_init_options(model: Any, init: Callable[..., None], arguments: dict[str, Any]) -> None:
    """Record ``arguments`` (every constructor argument by name, defaults filled in) on
    ``model`` when ``init`` is its class's own constructor."""
    if type(model).__init__ is init:
        setattr(model, ATTRIBUTE, dict(arguments))


def records_init_options(init: Callable[..., None]) -> Callable[..., None]:
    """Decorate a model's ``__init__`` so that the model records its arguments
    (``model.init_options``); it must take named arguments only, as a rebuild passes
    them by name."""
    signature = inspect.signature(init)
    variadic = [p.name for p in signature.parameters.values()
                if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if variadic:
        raise TypeError(f"{init.__qualname__} takes *{variadic[0]}: a model that records its constructor "
                        "arguments must take named arguments only")

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        arguments = dict(bound.arguments)
        del arguments[next(iter(signature.parameters))]  # self
        record_init_options(self, wrapper, arguments)

    return wrapper
