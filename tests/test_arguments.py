"""qembed.arguments: the one set of argument checks, and the messages they give."""

from __future__ import annotations

import attrs
import pytest

from qembed.arguments import QUOTE_LIMIT, check_bool, check_int, check_number, quoted, validator


@pytest.mark.parametrize(("options", "value", "error", "message"), [
    ({"minimum": 0, "exclusive": True}, "1", TypeError, "x must be a positive number, got '1'"),
    ({"minimum": 0, "exclusive": True}, 0, ValueError, "x must be > 0, got 0"),
    ({"minimum": 0, "exclusive": True}, float("nan"), ValueError, "x must be > 0, got nan"),
    ({"minimum": 0, "finite": True}, None, TypeError, "x must be a number >= 0, got None"),
    ({"minimum": 0, "finite": True}, float("inf"), ValueError, "x must be a finite number >= 0, got inf"),
    ({"minimum": 0.0}, -0.5, ValueError, "x must be >= 0.0, got -0.5"),
    ({"minimum": 0.0}, float("nan"), ValueError, "x must be >= 0.0, got nan"),
    ({}, True, TypeError, "x must be a number, got True"),
])
def test_check_number_refuses_with_the_range_in_the_message(options, value, error, message):
    with pytest.raises(error) as caught:
        check_number("x", value, **options)
    assert str(caught.value) == message


@pytest.mark.parametrize(("options", "value"), [
    ({"minimum": 0, "exclusive": True}, 1e-30), ({"minimum": 0}, 0), ({}, -float("inf")), ({"minimum": 1}, 10**400),
])
def test_check_number_returns_what_it_accepts(options, value):
    assert check_number("x", value, **options) is value


def test_check_bool_spells_the_values_as_asked():
    assert check_bool("flag", False) is False
    with pytest.raises(TypeError, match=r"^flag must be True or False, got 1$"):
        check_bool("flag", 1)
    with pytest.raises(TypeError, match=r"^flag must be true or false, got 'yes'$"):
        check_bool("flag", "yes", words=("true", "false"))


def test_messages_quote_a_huge_value_cut_short():
    with pytest.raises(TypeError) as caught:
        check_int("n", "9" * 500, minimum=1)
    assert str(caught.value) == f"n must be an integer >= 1, got {quoted('9' * 500)}"
    assert len(quoted("9" * 500)) == QUOTE_LIMIT


def test_validator_runs_a_check_on_an_attrs_field_by_its_name():
    @attrs.frozen
    class Options:
        steps: int = attrs.field(default=1, validator=validator(check_int, minimum=1))

    with pytest.raises(ValueError, match=r"^steps must be >= 1, got 0$"):
        Options(0)
