"""Register a throwaway plugin for the duration of one test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qembed.plugins import PluginRegistry, default_registry


@contextmanager
def temporary_plugin(plugin: Any, *, registry: PluginRegistry | None = None) -> Iterator[Any]:
    """Register ``plugin`` (a module, class or instance with qembed hooks) and
    remove it on exit, even when the test fails::

        with temporary_plugin(MyPlugin()):
            schedule = qembed.plugins.create("schedules", "my_schedule")
    """
    target = registry or default_registry()
    name = target.register(plugin)
    try:
        yield plugin
    finally:
        target.unregister(name)
