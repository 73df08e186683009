"""Plain records the plugin system keeps: where a plugin came from, what it
registered, and which plugins failed to load."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class PluginSource:
    """Where a plugin came from: an installed distribution, or code that called
    :func:`qembed.plugins.register` (then ``distribution`` is ``None``)."""

    plugin_name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None

    def describe(self) -> str:
        """``'dist 1.0 (entry point)'`` or ``'plugin <name> registered in code'``."""
        if self.distribution is None:
            return f"plugin {self.plugin_name!r} registered in code"
        where = f" ({self.entry_point})" if self.entry_point else ""
        return f"{self.distribution} {self.version}{where}"


@attrs.frozen
class Registration:
    """One named component: its factory and the plugin that supplied it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    source: PluginSource

    @property
    def distribution(self) -> str | None:
        return self.source.distribution

    @property
    def version(self) -> str | None:
        return self.source.version

    @property
    def summary(self) -> str:
        """First line of the factory's docstring ('' when it has none)."""
        doc = inspect.getdoc(self.factory) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded; its names are absent from every kind."""

    source: PluginSource
    error: str

    def describe(self) -> str:
        return f"{self.source.describe()}: {self.error}"
