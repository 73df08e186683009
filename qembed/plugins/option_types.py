"""Whether an option's value fits the type a factory (or torch class) declares for it.

torch takes a value of the wrong type silently and fails at the first step, after the run
folder was written, so LR scheduler options are checked against the type hints first. The
hints are resolved with :func:`typing.get_type_hints`; a config value is plain TOML/YAML
data (numbers, booleans, strings, lists), which is what the check accepts.
"""

from __future__ import annotations

import collections.abc
import re
import types
import typing
from typing import Any

#: names a module may import for type checkers only (torch's ``lr_scheduler`` imports
#: ``Callable``, ``Iterable`` and ``Sequence`` under ``TYPE_CHECKING``); its hints use them
_ABSTRACT_TYPES = {name: getattr(collections.abc, name) for name in collections.abc.__all__}
#: generic types a config gives as a list
_SEQUENCES = (list, collections.abc.Iterable, collections.abc.Sequence)


def option_types(target: Any) -> dict[str, Any]:
    """The resolved type hints of ``target``'s arguments (a class: its constructor's;
    unannotated ones absent). A hint naming what its module imports for type checkers
    only cannot be resolved: then nothing is checked and the factory checks its values."""
    function = getattr(target, "__init__") if isinstance(target, type) else target
    try:
        hints = typing.get_type_hints(function, localns=_ABSTRACT_TYPES)
    except NameError:
        return {}
    hints.pop("return", None)
    return hints


def check_option_types(label: str, hints: dict[str, Any], options: dict[str, Any]) -> None:
    """Raise ``TypeError`` ``<label> <key> must be <type>, got <value>`` for the first
    option whose value does not fit its hint in ``hints``."""
    for key, value in options.items():
        if key in hints and not fits(value, hints[key]):
            raise TypeError(f"{label} {key} must be {type_name(hints[key])}, got {value!r}")


def fits(value: Any, hint: Any) -> bool:
    """Whether plain config data ``value`` is a ``hint``: ``bool`` is not an ``int``, an
    ``int`` is a ``float``, a list stands for a ``list``, ``Iterable``, ``Sequence`` or
    ``tuple``; a config holds no function, so nothing is a ``Callable``."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, option) for option in arguments)
    if origin is typing.Literal:
        return any(type(value) is type(choice) and value == choice for choice in arguments)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        return isinstance(value, list) and all(fits(item, arguments[0]) for item in value if arguments)
    if origin is tuple:
        return isinstance(value, list) and _fits_tuple(value, arguments)
    if origin is collections.abc.Callable or hint is collections.abc.Callable:
        return False
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)  # str; a Tensor, which no config value is
    return True  # a hint of another form: torch checks the value itself


def _fits_tuple(value: list[Any], arguments: tuple[Any, ...]) -> bool:
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return all(fits(item, arguments[0]) for item in value)
    return len(value) == len(arguments) and all(map(fits, value, arguments))


def type_name(hint: Any) -> str:
    """``hint`` as its source spells it: ``int``, ``float | list[float]``, ``Iterable[int]``."""
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return re.sub(r"\b(?:typing|collections\.abc|torch)\.", "", repr(hint))
