"""Calls the lifecycle hooks that some plugin implements, and no others.

Which hooks have implementations is looked up once per trainer, so a hook that
no plugin implements costs nothing, however many plugins are installed.
"""

from __future__ import annotations

from typing import Any

from qembed.plugins import PluginRegistry

LIFECYCLE_HOOKS = (
    "qembed_on_train_start",
    "qembed_on_log",
    "qembed_on_validation_end",
    "qembed_on_epoch_end",
    "qembed_on_checkpoint",
    "qembed_on_train_end",
)


class Lifecycle:
    def __init__(self, registry: PluginRegistry) -> None:
        relay = registry.hook
        self._callers = {
            name: getattr(relay, name) for name in LIFECYCLE_HOOKS if getattr(relay, name).get_hookimpls()
        }

    def wants(self, hook: str) -> bool:
        """Whether any plugin implements ``hook`` (skip preparing its arguments if not)."""
        return hook in self._callers

    def call(self, hook: str, **arguments: Any) -> None:
        caller = self._callers.get(hook)
        if caller is not None:
            caller(**arguments)
