"""Errors and warnings of the plugin system.

Every message names what was asked and what would have been accepted, so a user
can fix the problem from the message alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """Candidates that look like a misspelling of ``word``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for close matches of ``word``, or an empty string."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"


class PluginError(Exception):
    """Base class of every error raised by the plugin system."""


class UnknownComponentError(PluginError, KeyError):
    """A component name (or kind) that no plugin registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str], noun: str) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        self.suggestions = close_matches(name, self.available)
        if self.available:
            listing = "available: " + ", ".join(repr(n) for n in self.available)
        else:
            listing = f"no {kind} registered"
        message = f"unknown {noun} {name!r}{did_you_mean(name, self.available)}; {listing}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class PluginConflictError(PluginError):
    """Two plugins registered different components under one name."""


class PluginLoadError(PluginError):
    """A plugin failed to import, to register, or broke the contract."""


class PluginHookError(PluginError):
    """A plugin's lifecycle hook raised; the message names the hook and the plugin."""


class PluginComponentError(PluginError):
    """A component a plugin registered raised; the message names the component, the
    plugin (distribution and registration hook) and the original error."""


class ComponentOptionError(PluginError, ValueError):
    """Options that a component's factory does not accept."""


class PluginWarning(UserWarning):
    """A third-party plugin was skipped because it is broken; qembed goes on."""
