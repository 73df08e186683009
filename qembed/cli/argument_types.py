"""argparse types shared by commands: a bad value is argparse's usage error, exit code 2."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """``text`` as an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
