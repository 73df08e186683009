"""A run's hyperparameters, flat, as every logger receives them.

The trainer's ``quantum_training_config`` keys keep their own names (as TensorBoard's
hparams always showed them); the other sections are prefixed ``<section>/``: ``model/``
(class and parameter count), ``optimizer/`` (the name it was given by, or its class,
and the first parameter group's hyperparameters; absent without an optimizer), ``loss/`` (name or class, and the
options of its spec), then whatever ``hyperparameters=`` the trainer was given (the CLI
gives the whole run config: ``model/``, ``data/``, ``training/`` ...), which wins.
Values are ``bool``, ``int``, ``float`` or ``str`` (anything else, ``None`` included,
as its ``str``); nested tables are joined with ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qembed.plugins.contracts import HyperparameterValue


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, HyperparameterValue]:
    """``values`` flat: nested mappings joined with ``/``, non-plain values as ``str``."""
    flat: dict[str, HyperparameterValue] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return flat


def _component(spec: Any, built: object) -> dict[str, Any]:
    """A component's name as given (a name or ``{"name": ...}`` spec's), else its class, and the spec's options."""
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, Mapping):
        return dict(spec)
    return {"name": type(built).__name__}


def trainer_hyperparameters(*, config: Mapping[str, Any], model: nn.Module, optimizer_spec: Any,
                            optimizer: torch.optim.Optimizer | None, loss_spec: Any, loss: object,
                            given: Mapping[str, Any] | None) -> dict[str, HyperparameterValue]:
    """The flat hyperparameters of a trainer built from these parts (see the module doc)."""
    if given is not None and not isinstance(given, Mapping):
        raise TypeError(f"hyperparameters must be a mapping of sections such as {{'data': {{...}}}}, got {given!r}")
    sections: dict[str, Any] = {
        "model": {"class": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters())},
        "loss": _component(loss_spec, loss) if loss is not None else {"name": "the model's own"},
    }
    if optimizer is not None:  # a trainer for evaluation only has none
        group = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
        sections["optimizer"] = {**group, **_component(optimizer_spec, optimizer)}
    return {**flatten(config), **flatten(sections), **flatten(given or {})}
