"""Plain records the plugin system keeps: where a plugin came from, what it
registered, and which plugins failed to load."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import attrs

from qembed.plugins.kinds import registration_hook


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

    def origin(self) -> str:
        """``from dist 1.0 (entry point), registered by qembed_register_<kind>()``: where the
        component comes from, as errors about it say."""
        return f"from {self.source.describe()}, registered by {registration_hook(self.kind)}()"

    @property
    def summary(self) -> str:
        """The first sentence of the factory's docstring as plain text ('' when it has none)."""
        return first_sentence(inspect.getdoc(self.factory) or "")


#: RST inline markup, its text kept: ``literal``, :role:`target`, `interpreted`, **strong**, *emphasis*.
_RST_MARKUP = re.compile(r"``(.+?)``|:[\w:]+:`~?(.+?)`|`(.+?)`_?|\*\*(.+?)\*\*|\*(.+?)\*")
#: A sentence ends at . ! or ? followed by a space and a capital letter, or at the text's end.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def first_sentence(doc: str) -> str:
    """The first sentence of ``doc``'s first paragraph, RST markup removed, on one line."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    plain = _RST_MARKUP.sub(lambda match: next(group for group in match.groups() if group is not None), paragraph)
    return _SENTENCE_END.split(plain, maxsplit=1)[0]


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded; its names are absent from every kind."""

    source: PluginSource
    error: str

    def describe(self) -> str:
        return f"{self.source.describe()}: {self.error}"
