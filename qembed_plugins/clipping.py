"""Built-in gradient clipping: ``none``, ``global_norm``, ``separate``, ``value`` and
``adaptive``.

A strategy is called after backward (after unscaling under AMP) as
``strategy(param_groups)`` with the optimizer's parameter groups (or plain
parameters), clips the gradients in place and returns the pre-clip gradient norms as
0-dim tensors: ``"grad_norm"`` over all parameters, ``"grad_norm/quantum"`` over those
with a qembed role (:func:`qembed.nn.role_of`) and ``"grad_norm/classical"`` over the
rest (each present when it has gradients). Nothing here reads a tensor's value on the
host, so clipping never waits for the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import torch
from torch import Tensor
from torch.nn.utils import clip_grad_value_, get_total_norm

from qembed import hookimpl
from qembed.arguments import check_number, validator
from qembed.nn import role_of

Norms = dict[str, Tensor]


def _positive_field(default: float) -> Any:
    return attrs.field(default=default, validator=validator(check_number, minimum=0, exclusive=True))


#: What :class:`GlobalNormClipping` clips: every gradient, or only one part.
PARTS = ("all", "quantum", "classical")


def _part(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or value not in PARTS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(map(repr, PARTS))}, got {value!r}")


def _split_parameters(param_groups: Iterable[Any]) -> tuple[list[Tensor], list[Tensor]]:
    """The ``(quantum, classical)`` parameters that have a gradient, from parameter
    groups (dicts with ``"params"``) or plain parameters."""
    quantum: list[Tensor] = []
    classical: list[Tensor] = []
    for group in param_groups:
        for param in group["params"] if isinstance(group, Mapping) else [group]:
            if param.grad is not None:
                (classical if role_of(param) is None else quantum).append(param)
    return quantum, classical


def _gradient_norms(quantum: list[Tensor], classical: list[Tensor], norm_type: float = 2.0) -> Norms:
    """``grad_norm`` and, for each non-empty part, ``grad_norm/quantum`` and
    ``grad_norm/classical``, as 0-dim tensors."""
    norms: Norms = {}
    for key, params in (("grad_norm/quantum", quantum), ("grad_norm/classical", classical)):
        if params:
            norms[key] = get_total_norm([p.grad for p in params], norm_type)
    if norms:
        norms["grad_norm"] = get_total_norm(list(norms.values()), norm_type)
    return norms


def _clip_to_norm_(params: list[Tensor], norm: Tensor, max_norm: float) -> None:
    """Scale the gradients of ``params`` (of total ``norm``) by ``min(1, max_norm / norm)``.

    Not ``torch.nn.utils.clip_grads_with_norm_``: it divides by ``norm + 1e-6``, which
    leaves a small total norm measurably short of ``max_norm`` (0.04% at a norm of 2e-3).
    ``max_norm / 0`` is inf, clamped to 1: zero gradients stay zero. No host sync."""
    factor = (max_norm / norm).clamp(max=1.0)
    by_device: dict[torch.device, list[Tensor]] = {}
    for param in params:
        by_device.setdefault(param.grad.device, []).append(param.grad)
    for device, grads in by_device.items():
        torch._foreach_mul_(grads, factor.to(device))


@attrs.frozen
class NoClipping:
    """Clips nothing and reports nothing (costs nothing)."""

    def __call__(self, param_groups: Iterable[Any]) -> Norms:
        return {}


@attrs.frozen
class GlobalNormClipping:
    """One norm over the gradients of ``parameters``, scaled down to at most
    ``max_norm`` (like ``torch.nn.utils.clip_grad_norm_``): ``"all"`` (the default),
    ``"quantum"`` (those with a role; the classical gradients are left as they are) or
    ``"classical"``. The norms of every part are reported, clipped or not."""

    max_norm: float = _positive_field(1.0)
    norm_type: float = _positive_field(2.0)
    parameters: str = attrs.field(default="all", validator=_part)

    def __call__(self, param_groups: Iterable[Any]) -> Norms:
        quantum, classical = _split_parameters(param_groups)
        norms = _gradient_norms(quantum, classical, self.norm_type)
        chosen, key = {"all": (quantum + classical, "grad_norm"), "quantum": (quantum, "grad_norm/quantum"),
                       "classical": (classical, "grad_norm/classical")}[self.parameters]
        if chosen:
            _clip_to_norm_(chosen, norms[key], self.max_norm)
        return norms


@attrs.frozen
class SeparateClipping:
    """Quantum and classical gradients each scaled down to their own maximum norm."""

    quantum_max_norm: float = _positive_field(1.0)
    classical_max_norm: float = _positive_field(1.0)
    norm_type: float = _positive_field(2.0)

    def __call__(self, param_groups: Iterable[Any]) -> Norms:
        quantum, classical = _split_parameters(param_groups)
        norms = _gradient_norms(quantum, classical, self.norm_type)
        if quantum:
            _clip_to_norm_(quantum, norms["grad_norm/quantum"], self.quantum_max_norm)
        if classical:
            _clip_to_norm_(classical, norms["grad_norm/classical"], self.classical_max_norm)
        return norms


@attrs.frozen
class ValueClipping:
    """Every gradient entry clamped to ``[-clip_value, clip_value]``; reports the
    pre-clip 2-norms."""

    clip_value: float = _positive_field(1.0)

    def __call__(self, param_groups: Iterable[Any]) -> Norms:
        quantum, classical = _split_parameters(param_groups)
        norms = _gradient_norms(quantum, classical)
        if quantum or classical:  # torch's foreach path refuses an empty list
            clip_grad_value_(quantum + classical, self.clip_value)
        return norms


@attrs.frozen
class AdaptiveClipping:
    """Unit-wise adaptive gradient clipping (Brock et al. 2021, NFNets).

    Each unit's gradient norm is capped at ``clipping * max(||W_unit||, eps)``, where
    a unit is a row (output unit) of a weight of two or more dimensions and the whole
    tensor otherwise. Reports the pre-clip 2-norms.
    """

    clipping: float = _positive_field(0.01)
    eps: float = _positive_field(1e-3)

    def __call__(self, param_groups: Iterable[Any]) -> Norms:
        quantum, classical = _split_parameters(param_groups)
        norms = _gradient_norms(quantum, classical)
        with torch.no_grad():
            for param in quantum + classical:
                max_norm = _unit_norms(param).clamp_min(self.eps) * self.clipping
                param.grad.mul_((max_norm / _unit_norms(param.grad)).clamp(max=1.0))
        return norms


def _unit_norms(tensor: Tensor) -> Tensor:
    """2-norm of each row (over all but the first dimension), or of the whole tensor
    when it has fewer than two dimensions; shaped to broadcast against ``tensor``."""
    if tensor.dim() < 2:
        return torch.linalg.vector_norm(tensor.detach())
    return torch.linalg.vector_norm(tensor.detach(), dim=tuple(range(1, tensor.dim())), keepdim=True)


@hookimpl
def qembed_register_clipping() -> dict[str, Callable[..., Callable[[Iterable[Any]], Norms]]]:
    return {
        "none": NoClipping,
        "global_norm": GlobalNormClipping,
        "separate": SeparateClipping,
        "value": ValueClipping,
        "adaptive": AdaptiveClipping,
    }
