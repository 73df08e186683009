"""Error messages on one line: every command reports an error as ``qembed: error: ...``."""

from __future__ import annotations


def one_line(err: BaseException) -> str:
    """An exception's message on one line (a plain ``KeyError`` without its quotes)."""
    text = str(err.args[0]) if type(err) is KeyError and err.args else str(err)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or type(err).__name__
