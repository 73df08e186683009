"""Names the plugin whose component raised.

A component a plugin registered (a loss, schedule, optimizer, clipping, replay or
collapse strategy) that raises while the trainer uses it is reported as a
:class:`~qembed.plugins.PluginComponentError` naming the component (the setting it
came from, its kind and name) and the plugin (distribution, version, entry point,
and the hook that registered it), chained to the original error.

The component is recognised in the error's traceback, innermost frame first, by the
code of its own functions: a method frame counts only when its ``self`` is the
component (a mixin the user's model shares runs with the model as ``self``), a
function frame only when qembed called it (the user's model calling the same
function is the user's). Nothing wraps the hot path: the cost is paid only when
something raised. qembed's own components name their errors themselves and are not
attributed, and running out of memory keeps its type (a note names the component),
so code that catches it still does.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FrameType, TracebackType
from typing import Any

import attrs
import torch

from qembed.plugins.errors import PluginComponentError, PluginError
from qembed.plugins.kinds import KIND_NOUNS
from qembed.plugins.records import Registration
from qembed.plugins.switches import BUILTIN_DISTRIBUTION


@attrs.frozen
class _Supplied:
    setting: str
    registration: Registration

    def label(self) -> str:
        """``'name' from dist 1.0 (entry point)``: the component and where it comes from."""
        return f"{self.registration.name!r} from {self.registration.source.describe()}"

    def failure(self, err: BaseException) -> PluginComponentError:
        reg = self.registration
        return PluginComponentError(
            f"{KIND_NOUNS[reg.kind]} {reg.name!r} ({self.setting}) {reg.origin()}, raised {type(err).__name__}: {err}"
        )


class ComponentSuppliers:
    """The third-party components one trainer built, found again by their code."""

    def __init__(self) -> None:
        self._functions: dict[CodeType, _Supplied] = {}  # function components, by their code
        self._methods: dict[CodeType, set[int]] = {}  # method code -> ids of the components running it
        self._objects: dict[int, tuple[Any, _Supplied]] = {}  # component id -> (component, supplier)

    def add(self, setting: str, registration: Registration | None, component: Any) -> None:
        """Remember that ``component`` (set by ``setting``) was built from ``registration``
        (``None`` for an object the user built: nothing to name)."""
        if registration is None or registration.distribution == BUILTIN_DISTRIBUTION:
            return
        supplied = _Supplied(setting, registration)
        function = _function_of(component)
        if function is not None:
            if not _is_library(function.__module__):
                self._functions.setdefault(function.__code__, supplied)
            return
        self._objects.setdefault(id(component), (component, supplied))
        for code in _method_codes(type(component)):
            self._methods.setdefault(code, set()).add(id(component))

    def label(self, setting: str) -> str | None:
        """How a message names the third-party component ``setting`` holds (``None``:
        none, or a built-in), for errors qembed raises about what the component returned."""
        supplied = [s for s in (*self._functions.values(), *(o[1] for o in self._objects.values()))
                    if s.setting == setting]
        return supplied[0].label() if supplied else None

    def failure_of(self, err: BaseException) -> PluginComponentError | None:
        """The error naming the component whose code raised ``err``, or ``None``."""
        frames = list(_frames(err.__traceback__))
        for frame in reversed(frames):
            supplied = self._supplier_of(frame)
            if supplied is not None:
                return supplied.failure(err)
        return None

    def _supplier_of(self, frame: FrameType) -> _Supplied | None:
        code = frame.f_code
        if code in self._functions and _called_by_library(frame):
            return self._functions[code]
        ids = self._methods.get(code)
        if ids:
            owner = frame.f_locals.get("self")
            if id(owner) in ids and self._objects[id(owner)][0] is owner:
                return self._objects[id(owner)][1]
        return None

    @contextmanager
    def named(self) -> Iterator[None]:
        """Re-raise an error a supplied component raised as a PluginComponentError
        (out-of-memory errors keep their type and get a note)."""
        try:
            yield
        except PluginError:
            raise
        except Exception as err:
            failure = self.failure_of(err) if self._functions or self._objects else None
            if failure is None:
                raise
            if isinstance(err, (MemoryError, torch.OutOfMemoryError)):
                err.add_note(str(failure))
                raise
            raise failure from err


def _frames(tb: TracebackType | None) -> Iterator[FrameType]:
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _is_library(module: str | None) -> bool:
    """Whether ``module`` is torch's, qembed's or Python's own (never a plugin's code)."""
    return (module or "").split(".")[0] in ("builtins", "torch", "qembed", "qembed_plugins", "abc", "typing",
                                           "functools")


def _called_by_library(frame: FrameType) -> bool:
    """Whether qembed (or torch, calling a module's hooks) called the function running in ``frame``."""
    caller = frame.f_back
    while caller is not None and caller.f_globals.get("__name__", "").split(".")[0] == "functools":
        caller = caller.f_back  # through a functools.partial or wraps
    return caller is not None and _is_library(caller.f_globals.get("__name__"))


def _function_of(component: Any) -> Any | None:
    """The plain function a function component runs (through partials and bound methods), or ``None``."""
    while isinstance(component, functools.partial):
        component = component.func
    if inspect.ismethod(component):
        component = component.__func__
    return inspect.unwrap(component) if inspect.isfunction(component) else None


def _method_codes(cls: type) -> set[CodeType]:
    """The code of the methods ``cls`` and its bases define, torch's, qembed's and Python's left out."""
    codes: set[CodeType] = set()
    for base in cls.__mro__:
        if _is_library(base.__module__):
            continue
        for value in vars(base).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            if inspect.isfunction(value):
                codes.add(inspect.unwrap(value).__code__)
    return codes
