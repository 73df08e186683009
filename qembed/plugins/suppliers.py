"""Names the plugin whose component raised.

A component a plugin registered (a loss, schedule, optimizer, clipping, replay or
collapse strategy) that raises while the trainer uses it is reported as a
:class:`~qembed.plugins.PluginComponentError` naming the component (the setting it
came from, its kind and name) and the plugin (distribution, version, entry point,
and the hook that registered it), chained to the original error.

The component is recognised in the error's traceback by the code of its own
functions, innermost frame first, so nothing wraps the hot path: the cost is paid
only when something raised. qembed's own components name their errors themselves
and are not attributed.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

import attrs

from qembed.plugins.errors import PluginComponentError, PluginError
from qembed.plugins.kinds import KIND_NOUNS, registration_hook
from qembed.plugins.records import Registration
from qembed.plugins.switches import BUILTIN_DISTRIBUTION


@attrs.frozen
class _Supplied:
    setting: str
    registration: Registration

    def failure(self, err: BaseException) -> PluginComponentError:
        reg = self.registration
        return PluginComponentError(
            f"{KIND_NOUNS[reg.kind]} {reg.name!r} ({self.setting}) from {reg.source.describe()}, registered by "
            f"{registration_hook(reg.kind)}(), raised {type(err).__name__}: {err}"
        )


class ComponentSuppliers:
    """The third-party components one trainer built, found again by their code."""

    def __init__(self) -> None:
        self._by_code: dict[CodeType, _Supplied] = {}

    def add(self, setting: str, registration: Registration | None, component: Any) -> None:
        """Remember that ``component`` (set by ``setting``) was built from ``registration``
        (``None`` for an object the user built: nothing to name)."""
        if registration is None or registration.distribution == BUILTIN_DISTRIBUTION:
            return
        supplied = _Supplied(setting, registration)
        for code in _codes_of(component):
            self._by_code.setdefault(code, supplied)

    def failure_of(self, err: BaseException) -> PluginComponentError | None:
        """The error naming the component whose code raised ``err``, or ``None``."""
        frames = [frame.f_code for frame, _ in _walk(err.__traceback__)]
        for code in reversed(frames):
            supplied = self._by_code.get(code)
            if supplied is not None:
                return supplied.failure(err)
        return None

    @contextmanager
    def named(self) -> Iterator[None]:
        """Re-raise an error a supplied component raised as a PluginComponentError."""
        try:
            yield
        except PluginError:
            raise
        except Exception as err:
            failure = self.failure_of(err) if self._by_code else None
            if failure is None:
                raise
            raise failure from err


def _walk(tb: Any) -> Iterator[tuple[Any, int]]:
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _codes_of(component: Any) -> set[CodeType]:
    """The code objects of a component's own functions: the function itself, or the
    methods its class (and its non-torch, non-qembed bases) define."""
    while isinstance(component, functools.partial):
        component = component.func
    if inspect.ismethod(component):
        component = component.__func__
    if inspect.isfunction(component):
        return {inspect.unwrap(component).__code__}
    cls = component if inspect.isclass(component) else type(component)
    codes: set[CodeType] = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] in ("builtins", "torch", "qembed", "qembed_plugins", "abc", "typing"):
            continue
        for value in vars(base).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            if inspect.isfunction(value):
                codes.add(inspect.unwrap(value).__code__)
    return codes
