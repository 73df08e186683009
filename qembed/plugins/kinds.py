"""The component kinds a plugin can register: one row each.

A kind is its row here (name, noun for messages, the contract in
:mod:`qembed.plugins.contracts`), its registration hook in
:mod:`qembed.plugins.hookspecs` (``qembed_register_<name>``) and its check in
:mod:`qembed.testing`; ``tests/test_architecture.py`` fails naming what a new row lacks.
"""

from __future__ import annotations

import attrs

from qembed.plugins.contracts import ClippingStrategy, Collapse, Logger, Loss, LRSchedule, Optimizer, ReplayStrategy, Schedule


@attrs.frozen
class Kind:
    """One component kind: its ``name`` (as plugins and the registry spell it), what one
    component of it is called in messages, and the protocol a built one satisfies."""

    name: str
    noun: str
    contract: type


KIND_TABLE: tuple[Kind, ...] = (
    Kind("schedules", "superposition schedule", Schedule),
    Kind("losses", "loss", Loss),
    Kind("optimizers", "optimizer", Optimizer),
    Kind("clipping", "gradient clipping strategy", ClippingStrategy),
    Kind("replay", "replay strategy", ReplayStrategy),
    Kind("collapse", "collapse strategy", Collapse),
    Kind("lr_schedulers", "LR scheduler", LRSchedule),
    Kind("loggers", "logger", Logger),
)

KINDS: tuple[str, ...] = tuple(kind.name for kind in KIND_TABLE)
#: What one component of each kind is, for messages such as "no schedules registered".
KIND_NOUNS: dict[str, str] = {kind.name: kind.noun for kind in KIND_TABLE}
#: The protocol of each kind (the registry checks a built component for its members).
KIND_CONTRACTS: dict[str, type] = {kind.name: kind.contract for kind in KIND_TABLE}


def registration_hook(kind: str) -> str:
    """Name of the hook through which plugins register components of ``kind``."""
    return f"qembed_register_{kind}"
