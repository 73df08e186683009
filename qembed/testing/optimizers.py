"""Contract check for optimizers."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qembed.testing.clipping import ParameterSpec, build_param_groups, parameter_specs
from qembed.testing.phases import PHASES


def _parameters(specs: list[ParameterSpec]) -> list[torch.nn.Parameter]:
    """The parameters ``specs`` describe (with their gradients), as one flat list."""
    return [param for group in build_param_groups(specs) for param in group["params"]]


def check_optimizer(factory: Callable[..., Any], /, *, max_examples: int = 50, **options: Any) -> None:
    """Check that ``factory(params, **options)`` builds an optimizer honouring the contract
    (:class:`qembed.plugins.contracts.Optimizer`).

    ``params`` is an iterator over generated parameters, as ``model.parameters()`` is
    (random shapes; some with a role, some without a gradient; gradients zero, tiny
    or huge up to 1e12). The result must be a ``torch.optim.Optimizer`` whose
    ``param_groups`` hold each parameter exactly once and each have an ``"lr"``; its
    steps must leave the parameters finite and those without a gradient untouched;
    after a ``torch.save`` + ``torch.load(weights_only=True)`` round trip of its
    ``state_dict()`` a fresh optimizer must take exactly the step the original takes;
    and with ``lr`` 0 in every group (as an LR scheduler may set it) a step must not
    move any parameter. Raises ``AssertionError`` with the failing input.
    """
    label = f"{getattr(factory, '__name__', factory)!s}(params, **{options!r})"

    @settings(max_examples=max_examples, deadline=None, database=None, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow])
    @given(specs=parameter_specs, steps=st.integers(1, 3))
    def holds_the_contract(specs: list[ParameterSpec], steps: int) -> None:
        where = f"{label} on {specs!r}"
        params = _parameters(specs)
        initial = [param.detach().clone() for param in params]
        optimizer = factory(iter(params), **options)
        assert isinstance(optimizer, torch.optim.Optimizer), (
            f"{label} built a {type(optimizer).__name__}, not a torch.optim.Optimizer"
        )
        held = sorted(id(param) for group in optimizer.param_groups for param in group["params"])
        assert held == sorted(map(id, params)), f"{where}: param_groups do not hold each parameter exactly once"
        assert all("lr" in group for group in optimizer.param_groups), (
            f"{where}: a parameter group has no 'lr', which LR schedulers set"
        )

        for _ in range(steps):
            optimizer.step()
        for index, (param, value) in enumerate(zip(params, initial)):
            at = f"{where}, parameter {index}, after {steps} steps"
            assert bool(torch.isfinite(param).all()), f"{at}: the parameter is no longer finite"
            if param.grad is None:
                assert torch.equal(param.detach(), value), f"{at}: a parameter without gradient moved"

        saved = io.BytesIO()
        torch.save(optimizer.state_dict(), saved)
        saved.seek(0)
        twin_params = _parameters(specs)  # the same shapes and roles, from the same seeds
        with torch.no_grad():
            for twin, param in zip(twin_params, params):
                twin.copy_(param)
                twin.grad = None if param.grad is None else param.grad.clone()  # as the steps left it
        twin = factory(iter(twin_params), **options)
        twin.load_state_dict(torch.load(saved, weights_only=True))
        optimizer.step()
        twin.step()
        for index, (param, restored) in enumerate(zip(params, twin_params)):
            assert torch.equal(param.detach(), restored.detach()), (
                f"{where}, parameter {index}: an optimizer restored from state_dict() took another step"
            )

        for group in optimizer.param_groups:
            group["lr"] = 0.0
        before = [param.detach().clone() for param in params]
        optimizer.step()
        for index, (param, value) in enumerate(zip(params, before)):
            assert torch.equal(param.detach(), value), (
                f"{where}, parameter {index}: a step with lr=0 in every parameter group moved it"
            )

    holds_the_contract()
