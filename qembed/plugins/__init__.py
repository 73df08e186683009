"""qembed's plugin system: components by string name, supplied by plugins.

Built-in and third-party components reach qembed the same way: a module declared
under the ``qembed`` entry-point group implements registration hooks returning
``{name: factory}``. Code without a package (a notebook) calls :func:`register`.

    >>> from qembed import plugins
    >>> schedule = plugins.create("schedules", "cyclic", cycle_steps=100)
    >>> sorted(plugins.available("schedules"))
    ['constant', 'cyclic', 'linear']
"""

from __future__ import annotations

from typing import Any

from qembed.plugins.errors import (
    ComponentOptionError,
    PluginComponentError,
    PluginConflictError,
    PluginError,
    PluginHookError,
    PluginLoadError,
    PluginWarning,
    UnknownComponentError,
)
from qembed.plugins.kinds import KINDS
from qembed.plugins.markers import ENTRY_POINT_GROUP, hookimpl, hookspec
from qembed.plugins.records import PluginFailure, PluginSource, Registration
from qembed.plugins.registry import PluginRegistry, building_registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "ComponentOptionError",
    "PluginComponentError",
    "PluginConflictError",
    "PluginError",
    "PluginFailure",
    "PluginHookError",
    "PluginLoadError",
    "PluginRegistry",
    "PluginSource",
    "PluginWarning",
    "Registration",
    "UnknownComponentError",
    "available",
    "create",
    "current_registry",
    "default_registry",
    "failures",
    "hookimpl",
    "hookspec",
    "register",
    "unregister",
]

_registry = PluginRegistry()


def default_registry() -> PluginRegistry:
    """The process-wide registry that the module-level functions use."""
    return _registry


def current_registry() -> PluginRegistry:
    """The registry to look names up in: the one building a component now (a trainer's,
    with its own plugins, while it builds its loss), else the process-wide one. A
    component that builds another by name (a loss's ``base_loss``) uses it."""
    return building_registry() or _registry


def available(kind: str) -> dict[str, Registration]:
    """Components of ``kind`` by name, each with the distribution and version that
    supplied it. ``kind`` is one of :data:`KINDS`."""
    return _registry.available(kind)


def create(kind: str, spec: Any, /, *args: Any, **options: Any) -> Any:
    """Build a component from a name, a ``{"name": ..., **options}`` mapping, or
    return an already-built object unchanged. Optimizers take their parameters
    as the first positional argument."""
    return _registry.create(kind, spec, *args, **options)


def register(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object from code; returns its name for :func:`unregister`."""
    return _registry.register(plugin, name)


def unregister(plugin: Any) -> None:
    """Remove a plugin registered with :func:`register` (the object or its name)."""
    _registry.unregister(plugin)


def failures() -> list[PluginFailure]:
    """Plugins that failed to load (each was also reported with a warning)."""
    return _registry.failures()
