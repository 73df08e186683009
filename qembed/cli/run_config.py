"""Reading the run-config file of ``qembed train`` into a checked :class:`RunConfig`.

A run config names every part of a training run by string names and options:
``[model]``, ``[data]``, ``[optimizer]``, ``[loss]``, ``[lr_scheduler]``, ``[quantum]`` (the
``quantum_training_config``) and ``[training]``, as :mod:`qembed.cli.run_schema` defines them.
:func:`load_run_config` checks all of it before anything is built: an unknown section or key
is named with close matches, a bad value with the message the Python API gives, each
prefixed with the file and the section (``polysemy.toml: [training] epochs must be an
integer >= 1, got 0``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from qembed.cli.config_errors import RunConfigError, blame
from qembed.cli.config_file import read_config_file
from qembed.cli.run_schema import (
    LR_SCHEDULERS,
    NAMED_SECTIONS,
    REQUIRED_SECTIONS,
    SECTIONS,
    DataSection,
    ModelSection,
    RunConfig,
    TrainingSection,
    component_keys,
    component_spec,
    from_table,
    lr_scheduler_spec,
)
from qembed.plugins.errors import did_you_mean
from qembed.training import QuantumTrainingConfig

__all__ = ["LR_SCHEDULERS", "RunConfig", "RunConfigError", "load_run_config"]

T = TypeVar("T")


def load_run_config(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read and check a run-config file; ``overrides`` maps dotted keys
    (``"training.epochs"``) to values that replace the file's."""
    path = Path(path)
    source = str(path)
    raw = read_config_file(path)
    for key, value in (overrides or {}).items():
        _apply_override(raw, key, value, source)
    for section in raw:
        if section not in SECTIONS:
            raise RunConfigError(f"{source}: unknown section [{section}]{did_you_mean(str(section), SECTIONS)}; "
                                 f"sections: {', '.join(f'[{s}]' for s in SECTIONS)}")
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise RunConfigError(f"{source}: missing section [{section}]")

    def read(section: str, build: Callable[[dict[str, Any]], T]) -> T:
        table = _table(source, raw, section)
        with blame(source, section):
            return build(table)

    def optional(section: str, build: Callable[[dict[str, Any]], T]) -> T | None:
        return read(section, build) if section in raw else None

    training = read("training", partial(from_table, TrainingSection))
    model = read("model", partial(ModelSection.from_table, with_corpus=read("data", DataSection.uses_corpus)))
    quantum = read("quantum", partial(from_table, QuantumTrainingConfig))
    return RunConfig(
        source=source, name=path.stem, model=model,
        data=read("data", partial(DataSection.from_table, model_name=model.name, seed=training.seed)),
        optimizer=read("optimizer", partial(component_spec, "optimizer")),
        loss=optional("loss", partial(component_spec, "loss")),
        lr_scheduler=optional("lr_scheduler", lr_scheduler_spec), quantum=quantum, training=training,
    )


def _table(source: str, raw: dict[str, Any], section: str) -> dict[str, Any]:
    """``raw[section]`` (``{}`` when absent; a bare string is the name of a
    :data:`NAMED_SECTIONS` section)."""
    value = raw.get(section, {})
    if section in NAMED_SECTIONS and isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise RunConfigError(f"{source}: [{section}] must be a table, got {value!r}")
    return value


def _apply_override(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``raw[section][key]...`` from a dotted ``section.key`` path. A component given
    by its name alone (a named section, a component key of the section) takes options the
    same way: ``optimizer.lr`` on ``optimizer = "adamw"`` gives ``{name = "adamw", lr = ...}``."""
    *parents, last = key.split(".")
    if not parents or not all(key.split(".")):
        raise RunConfigError(f"override {key!r} must look like SECTION.KEY, e.g. training.epochs")
    table = raw
    for depth, part in enumerate(parents):
        section = parents[0]
        takes_options = (section in NAMED_SECTIONS if depth == 0
                         else depth == 1 and section in SECTIONS and part in component_keys(section))
        if takes_options and isinstance(table.get(part), str):
            table[part] = {"name": table[part]}
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            where = ".".join(parents[: depth + 1])
            raise RunConfigError(f"{source}: cannot set {key}: {where} is not a table")
    table[last] = value
