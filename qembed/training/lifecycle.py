"""Calls the lifecycle hooks that some plugin implements, and no others.

Which hooks have implementations is looked up once per trainer, so a hook that
no plugin implements costs nothing, however many plugins are installed. An
implementation that raises is named in a :class:`~qembed.plugins.PluginHookError`
(the hook, and the distribution or code that registered the plugin).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from qembed.plugins import PluginHookError, PluginRegistry, hookspecs

#: Every lifecycle hook: the ``qembed_on_*`` specifications in :mod:`qembed.plugins.hookspecs`.
LIFECYCLE_HOOKS = tuple(name for name in vars(hookspecs) if name.startswith("qembed_on_"))


class Lifecycle:
    def __init__(self, registry: PluginRegistry) -> None:
        self._registry = registry
        relay = registry.hook
        self._callers = {
            name: getattr(relay, name) for name in LIFECYCLE_HOOKS if getattr(relay, name).get_hookimpls()
        }

    def wants(self, hook: str) -> bool:
        """Whether any plugin implements ``hook`` (skip preparing its arguments if not)."""
        return hook in self._callers

    def call(self, hook: str, **arguments: Any) -> None:
        caller = self._callers.get(hook)
        if caller is None:
            return
        implementations = caller.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in implementations):
            caller(**arguments)  # wrappers need pluggy's own call; a failure is not attributed
            return
        for impl in reversed(implementations):  # pluggy's order: the last registered first
            try:
                impl.function(**{name: arguments[name] for name in impl.argnames})
            except PluginHookError:
                raise
            except Exception as err:
                if _is_own(impl.plugin):  # qembed's own hooks (TensorBoard, the CLI's) name their errors
                    raise
                where = self._registry.describe(impl.plugin_name)
                raise PluginHookError(f"{hook} of {where} raised {type(err).__name__}: {err}") from err


def _is_own(plugin: Any) -> bool:
    """Whether ``plugin`` is one of qembed's own (``qembed`` or ``qembed_plugins``)."""
    module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    return module.split(".")[0] in ("qembed", "qembed_plugins")
