"""Argument checks with messages that name the argument and the accepted range.

``TypeError`` for a value of the wrong type, ``ValueError`` for one out of range.
"""

from __future__ import annotations

from numbers import Real


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]`` (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be{_range_text(minimum, maximum)}, got {value}")
    return value


def check_probability(name: str, value: object, *, open_low: bool, open_high: bool) -> float:
    """Return ``value`` as a float if it is a real number in the given (half-)open unit interval."""
    low, high = ("(" if open_low else "["), (")" if open_high else "]")
    accepted = f"{low}0, 1{high}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in {accepted}, got {value!r}")
    number = float(value)
    too_low = number <= 0.0 if open_low else number < 0.0
    too_high = number >= 1.0 if open_high else number > 1.0
    if too_low or too_high or number != number:
        raise ValueError(f"{name} must be in {accepted}, got {value!r}")
    return number


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
