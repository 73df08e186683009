"""Parameter roles: how optimizers and clipping strategies find quantum parameters.

qembed's layers tag their parameters with a role (:func:`mark`), so that code
holding only ``model.parameters()`` (the seed's optimizers) can still put
superposition, entanglement and collapse parameters in their own groups. An
untagged parameter is classical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

ROLES: tuple[str, ...] = ("superposition", "entanglement", "collapse")
_ATTRIBUTE = "_qembed_role"
_PROJECTION = "_qembed_projection"


def mark(parameter: torch.nn.Parameter, role: str) -> torch.nn.Parameter:
    """Tag ``parameter`` with ``role`` (one of :data:`ROLES`) and return it."""
    if role not in ROLES:
        raise ValueError(f"unknown parameter role {role!r}; roles are {', '.join(map(repr, ROLES))}")
    setattr(parameter, _ATTRIBUTE, role)
    return parameter


def mark_module(module: torch.nn.Module, role: str) -> torch.nn.Module:
    """Tag every parameter of ``module`` with ``role``; returns the module."""
    for parameter in module.parameters():
        mark(parameter, role)
    return module


def role_of(parameter: torch.Tensor) -> str | None:
    """The role a qembed layer gave ``parameter``, or ``None`` for a classical one."""
    return getattr(parameter, _ATTRIBUTE, None)


def is_quantum(parameter: torch.Tensor) -> bool:
    """Whether ``parameter`` carries any quantum role."""
    return role_of(parameter) is not None


def set_projection(parameter: torch.nn.Parameter, projection: Callable[[torch.Tensor], None]) -> None:
    """Give ``parameter`` an in-place projection that keeps it in its valid set
    (applied by optimizers such as ``EntanglementOptimizer`` after each step)."""
    setattr(parameter, _PROJECTION, projection)


@torch.no_grad()
def project_parameters(parameters: Iterable[torch.Tensor]) -> None:
    """Apply every parameter's projection (see :func:`set_projection`) in place."""
    for parameter in parameters:
        projection = getattr(parameter, _PROJECTION, None)
        if projection is not None:
            projection(parameter)


def split_by_role(parameters: Iterable[torch.Tensor]) -> dict[str | None, list[torch.Tensor]]:
    """Group parameters by role (key ``None`` for classical ones), keeping order."""
    groups: dict[str | None, list[torch.Tensor]] = {}
    for parameter in parameters:
        groups.setdefault(role_of(parameter), []).append(parameter)
    return groups


class RoleTagged(torch.nn.Module):
    """A module whose parameters carry roles that survive ``copy.deepcopy`` and
    pickling (a deep-copied ``Parameter`` loses its attributes, so the tags are
    put back from :attr:`parameter_roles` whenever the module is rebuilt).

    Subclasses set ``parameter_roles = {"attribute": "role"}``, naming parameters
    or submodules, optionally ``parameter_projections = {"attribute": "method"}``
    naming an in-place projection method for a parameter, and call
    :meth:`apply_roles` at the end of ``__init__``.
    """

    parameter_roles: dict[str, str] = {}
    parameter_projections: dict[str, str] = {}

    def apply_roles(self) -> None:
        for attribute, role in self.parameter_roles.items():
            target = getattr(self, attribute)
            if isinstance(target, torch.nn.Module):
                mark_module(target, role)
            elif isinstance(target, torch.Tensor):
                mark(target, role)
        for attribute, method in self.parameter_projections.items():
            set_projection(getattr(self, attribute), getattr(self, method))

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.apply_roles()
