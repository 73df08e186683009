"""Environment switches of the plugin system, modelled on pytest's.

- ``QEMBED_DISABLE_PLUGINS=dist1,dist2``: skip the entry points of those distributions.
- ``QEMBED_DISABLE_PLUGIN_AUTOLOAD=1``: load no third-party entry point (qembed's
  own built-ins still load).
- ``QEMBED_STRICT_PLUGINS=1``: a broken plugin raises instead of warning (for
  plugin authors).

They are read when entry points are loaded, not at import.
"""

from __future__ import annotations

import os
import re

BUILTIN_DISTRIBUTION = "qembed"
_TRUE = {"1", "true", "yes", "on"}


def canonical_distribution_name(name: str) -> str:
    """The PEP 503 normalised form: ``My_Plugin.x`` -> ``my-plugin-x``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _flag(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in _TRUE


def strict() -> bool:
    return _flag("QEMBED_STRICT_PLUGINS")


def autoload() -> bool:
    return not _flag("QEMBED_DISABLE_PLUGIN_AUTOLOAD")


def disabled_distributions() -> frozenset[str]:
    raw = os.environ.get("QEMBED_DISABLE_PLUGINS", "")
    return frozenset(canonical_distribution_name(n.strip()) for n in raw.split(",") if n.strip())


def should_load(distribution: str) -> bool:
    """Whether the switches allow loading entry points of ``distribution``."""
    name = canonical_distribution_name(distribution)
    if name in disabled_distributions():
        return False
    return autoload() or name == BUILTIN_DISTRIBUTION
