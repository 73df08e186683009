"""Built-in optimizers: ``quantum``, ``entanglement`` and ``uncertainty`` (AdamW with
quantum-aware rules), and torch's ``adamw``, ``adam`` and ``sgd``.

The three quantum optimizers are ``torch.optim.AdamW`` subclasses, so they work with
LR schedulers, ``GradScaler`` and checkpoints. Given plain parameters (``model.parameters()``)
they form one parameter group per kind of parameter, found by the role qembed's layers
put on it (:func:`qembed.nn.role_of`); each group carries a ``"role"`` key
(``"classical"``, ``"quantum"``, ``"entanglement"``) for clipping and logging. Given
parameter-group dicts, a group with its own ``"lr"`` is kept as given (``"role"``
defaults to ``"custom"``); a group without one is split by role like plain parameters,
keeping its other options.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from qembed import hookimpl
from qembed.arguments import check_number
from qembed.nn import project_parameters, role_of
from qembed.plugins.errors import did_you_mean

_ADAMW_OPTIONS = tuple(name for name in inspect.signature(torch.optim.AdamW).parameters if name not in ("params", "lr"))


def _check_adamw_options(owner: str, own_options: Iterable[str], options: Mapping[str, Any]) -> None:
    known = (*own_options, *_ADAMW_OPTIONS)
    for name in options:
        if name not in known:
            raise TypeError(f"{owner} has no option {name!r}{did_you_mean(name, known)}; "
                            f"its options are: {', '.join(known)}")


def _role_groups(params: Iterable[Any], label_of: Callable[[str | None], str],
                 learning_rates: Mapping[str, float]) -> list[dict[str, Any]]:
    """Parameter groups labelled by ``label_of(role)`` at ``learning_rates[label]``.

    ``params`` may hold tensors, ``(name, tensor)`` pairs or group dicts; a dict with
    an ``"lr"`` is kept as given, others are split by label keeping their options."""
    items = list(params)
    given = items if items and isinstance(items[0], Mapping) else [{"params": items}]
    groups: list[dict[str, Any]] = []
    for group in given:
        if "lr" in group:
            groups.append({"role": "custom", **group})
            continue
        members = group["params"]
        members = [members] if isinstance(members, Tensor) else list(members)
        split: dict[str, list[Any]] = {label: [] for label in learning_rates}
        for member in members:
            tensor = member[1] if isinstance(member, tuple) else member
            split[label_of(role_of(tensor))].append(member)
        groups.extend({**group, "params": chosen, "role": label, "lr": learning_rates[label]}
                      for label, chosen in split.items() if chosen)
    return groups


def _quantum_or_classical(role: str | None) -> str:
    return "classical" if role is None else "quantum"


class QuantumOptimizer(torch.optim.AdamW):
    """AdamW with every quantum parameter (any role) in a ``"quantum"`` group at
    ``quantum_learning_rate`` (default ``lr``) and the rest in a ``"classical"``
    group at ``lr``. Other keyword options go to ``torch.optim.AdamW``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, quantum_learning_rate: float | None = None,
                 **adamw_options: Any) -> None:
        quantum_learning_rate = lr if quantum_learning_rate is None else quantum_learning_rate
        check_number("lr", lr, minimum=0, exclusive=True)
        check_number("quantum_learning_rate", quantum_learning_rate, minimum=0, exclusive=True)
        _check_adamw_options(type(self).__name__, ("lr", "quantum_learning_rate"), adamw_options)
        groups = _role_groups(params, _quantum_or_classical, {"classical": lr, "quantum": quantum_learning_rate})
        super().__init__(groups, lr=lr, **adamw_options)


class EntanglementOptimizer(torch.optim.AdamW):
    """AdamW with entanglement parameters in an ``"entanglement"`` group at
    ``entanglement_lr`` (default ``lr``); other quantum parameters (``"quantum"``)
    and classical ones (``"classical"``) train at ``lr``.

    After every step each parameter's projection is applied
    (:func:`qembed.nn.project_parameters`), so the coupling generator of an
    :class:`~qembed.nn.EntanglementLayer` stays skew-symmetric whatever weight decay does.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, entanglement_lr: float | None = None,
                 **adamw_options: Any) -> None:
        entanglement_lr = lr if entanglement_lr is None else entanglement_lr
        check_number("lr", lr, minimum=0, exclusive=True)
        check_number("entanglement_lr", entanglement_lr, minimum=0, exclusive=True)
        _check_adamw_options(type(self).__name__, ("lr", "entanglement_lr"), adamw_options)

        def label_of(role: str | None) -> str:
            return "entanglement" if role == "entanglement" else _quantum_or_classical(role)

        groups = _role_groups(params, label_of, {"classical": lr, "quantum": lr, "entanglement": entanglement_lr})
        super().__init__(groups, lr=lr, **adamw_options)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = super().step(closure)
        project_parameters(p for group in self.param_groups for p in group["params"])
        return loss


class UncertaintyOptimizer(torch.optim.AdamW):
    """AdamW whose steps shrink on batches more uncertain than the model has lately been.

    The trainer reports each batch's uncertainty ``u`` in [0, 1] with
    :meth:`observe_uncertainty`. The optimizer keeps a running mean ``m`` of the
    observations (an exponential moving average with factor ``uncertainty_momentum``,
    updated after each step, started at the first observation) and multiplies every
    step's parameter change by

        ``s = clamp(r / u, min_scale, 1)`` with the reference ``r = max(m, uncertainty_threshold)``,

    where ``m`` is the running mean *before* this step's observation: a batch no more
    uncertain than the reference (or than ``uncertainty_threshold``) gets AdamW's step; one
    more uncertain gets a step shrunk in proportion, ``r / u``. So a constant or falling
    uncertainty, whatever its level, gets AdamW's steps (``s = 1``); ``s`` is never below
    ``max(min_scale, uncertainty_threshold)`` (0.5 with the defaults: steps never stall);
    and no step is larger than AdamW's at ``lr``. Before any observation ``s = 1``.
    Parameters are grouped into ``"classical"`` and ``"quantum"``, both at ``lr``. The
    last observation and the running mean are part of :meth:`state_dict`, so a resumed
    run behaves the same.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, uncertainty_threshold: float = 0.5,
                 min_scale: float = 0.1, uncertainty_momentum: float = 0.9, **adamw_options: Any) -> None:
        check_number("lr", lr, minimum=0, exclusive=True)
        if isinstance(uncertainty_threshold, bool) or not isinstance(uncertainty_threshold, (int, float)) \
                or not 0.0 <= uncertainty_threshold < 1.0:
            raise ValueError(f"uncertainty_threshold must be in [0, 1), got {uncertainty_threshold!r}")
        if isinstance(min_scale, bool) or not isinstance(min_scale, (int, float)) or not 0.0 < min_scale <= 1.0:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
        if isinstance(uncertainty_momentum, bool) or not isinstance(uncertainty_momentum, (int, float)) \
                or not 0.0 <= uncertainty_momentum < 1.0:
            raise ValueError(f"uncertainty_momentum must be in [0, 1), got {uncertainty_momentum!r}")
        _check_adamw_options(type(self).__name__,
                             ("lr", "uncertainty_threshold", "min_scale", "uncertainty_momentum"), adamw_options)
        groups = _role_groups(params, _quantum_or_classical, {"classical": lr, "quantum": lr})
        super().__init__(groups, lr=lr, **adamw_options)
        self.uncertainty_threshold = float(uncertainty_threshold)
        self.min_scale = float(min_scale)
        self.uncertainty_momentum = float(uncertainty_momentum)
        self._uncertainty: Tensor | None = None
        self._running_mean: Tensor | None = None

    def observe_uncertainty(self, uncertainty: Tensor | float) -> None:
        """Record the current batch uncertainty: a 0-dim tensor in [0, 1], best on the
        parameters' device (it is kept as is: no host-device synchronisation). The
        last observation before a step is the one that step uses."""
        if not isinstance(uncertainty, Tensor):
            uncertainty = torch.tensor(float(uncertainty), device=self.param_groups[0]["params"][0].device)
        if uncertainty.dim() != 0:
            raise ValueError(f"uncertainty must be a 0-dim tensor, got shape {tuple(uncertainty.shape)}")
        self._uncertainty = uncertainty.detach().float()
        if self._running_mean is None:
            self._running_mean = self._uncertainty.clone()

    @property
    def running_uncertainty(self) -> Tensor | None:
        """The running mean ``m`` of the observed uncertainty (a 0-dim tensor), or ``None``."""
        return self._running_mean

    def update_scale(self) -> Tensor | None:
        """The factor ``s`` the next step applies (a 0-dim float32 tensor), or ``None``
        (meaning 1) before any uncertainty was observed."""
        if self._uncertainty is None or self._running_mean is None:
            return None
        u = self._uncertainty
        reference = self._running_mean.to(u.device).clamp_min(self.uncertainty_threshold)
        shrunk = reference / u  # used only where u > reference >= 0: finite
        return torch.where(u <= reference, torch.ones_like(u), shrunk).clamp(self.min_scale, 1.0)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        scale = self.update_scale()
        if scale is None:
            return super().step(closure)
        by_device: dict[torch.device, list[Tensor]] = {}
        for group in self.param_groups:
            for param in group["params"]:
                by_device.setdefault(param.device, []).append(param)
        before = {device: [p.clone() for p in params] for device, params in by_device.items()}
        loss = super().step(closure)
        for device, params in by_device.items():
            torch._foreach_sub_(params, before[device])  # the AdamW change ...
            torch._foreach_mul_(params, scale.to(device))  # ... times s ...
            torch._foreach_add_(params, before[device])  # ... from where the step began
        self._running_mean = torch.lerp(self._running_mean.to(self._uncertainty.device), self._uncertainty,
                                        1.0 - self.uncertainty_momentum)
        return loss

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["observed_uncertainty"] = self._uncertainty
        state["running_uncertainty"] = self._running_mean
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state_dict = dict(state_dict)
        uncertainty = state_dict.pop("observed_uncertainty", None)
        running = state_dict.pop("running_uncertainty", None)
        super().load_state_dict(state_dict)
        device = self.param_groups[0]["params"][0].device
        self._uncertainty = None if uncertainty is None else uncertainty.to(device)
        if running is None and uncertainty is not None:  # a checkpoint from before the running mean
            running = uncertainty
        self._running_mean = None if running is None else running.to(device)


@hookimpl
def qembed_register_optimizers() -> dict[str, Callable[..., torch.optim.Optimizer]]:
    return {
        "quantum": QuantumOptimizer,
        "entanglement": EntanglementOptimizer,
        "uncertainty": UncertaintyOptimizer,
        "adamw": torch.optim.AdamW,
        "adam": torch.optim.Adam,
        "sgd": torch.optim.SGD,
    }
