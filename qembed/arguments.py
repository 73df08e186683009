"""Argument checks with messages that name the argument and the accepted range.

``TypeError`` for a value of the wrong type, ``ValueError`` for one out of range. The
value is quoted with :func:`quoted`, so a huge one keeps the message readable. Every
check of a number or switch in qembed goes through here, so they all read alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import attrs

#: The longest quotation of a value an error message makes (a huge value stays readable).
QUOTE_LIMIT = 80


def quoted(value: Any) -> str:
    """``repr(value)``, cut to :data:`QUOTE_LIMIT` characters."""
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]`` (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {quoted(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be{_range_text(minimum, maximum)}, got {quoted(value)}")
    return value


def check_number(name: str, value: object, *, minimum: float | None = None, exclusive: bool = False,
                 finite: bool = False) -> float:
    """Return ``value`` if it is an int or float (not a bool) ``>= minimum`` (``> minimum``
    when ``exclusive``; NaN is neither) and, with ``finite``, neither infinite nor NaN."""
    bound = "" if minimum is None else f" {'>' if exclusive else '>='} {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a positive number" if exclusive and minimum == 0 else f"a number{bound}"
        raise TypeError(f"{name} must be {kind}, got {quoted(value)}")
    below = minimum is not None and not (value > minimum if exclusive else value >= minimum)
    if below or (finite and not -math.inf < value < math.inf):
        raise ValueError(f"{name} must be{' a finite number' if finite else ''}{bound}, got {quoted(value)}")
    return value


def check_probability(name: str, value: object, *, open_low: bool, open_high: bool) -> float:
    """Return ``value`` as a float if it is a real number in the given (half-)open unit interval."""
    low, high = ("(" if open_low else "["), (")" if open_high else "]")
    accepted = f"{low}0, 1{high}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in {accepted}, got {quoted(value)}")
    number = float(value)
    too_low = number <= 0.0 if open_low else number < 0.0
    too_high = number >= 1.0 if open_high else number > 1.0
    if too_low or too_high or number != number:
        raise ValueError(f"{name} must be in {accepted}, got {quoted(value)}")
    return number


def check_bool(name: str, value: object, *, words: tuple[str, str] = ("True", "False")) -> bool:
    """Return ``value`` if it is a bool; the message spells the two values as ``words``
    (``("true", "false")`` for a TOML or YAML file)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be {words[0]} or {words[1]}, got {quoted(value)}")
    return value


def validator(check: Callable[..., Any], **options: Any) -> Callable[[Any, attrs.Attribute, Any], None]:
    """An attrs validator running ``check(attribute.name, value, **options)``."""

    def validate(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        check(attribute.name, value, **options)

    return validate


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
