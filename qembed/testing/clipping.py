"""Contract check for gradient clipping strategies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed.nn import ROLES, mark
from qembed.plugins.contracts import ClippingStrategy
from qembed.testing.members import assert_members

RTOL = 1e-4
ATOL = 1e-12


class ParameterSpec(NamedTuple):
    """One generated parameter: ``grad_scale`` ``None`` means no gradient, ``0.0`` a
    zero gradient; values are ``scale * randn`` drawn from ``seed``."""

    shape: tuple[int, ...]
    role: str | None
    param_scale: float
    grad_scale: float | None
    group: int
    seed: int


parameter_specs = st.lists(
    st.builds(
        ParameterSpec,
        shape=st.lists(st.integers(1, 6), max_size=3).map(tuple),
        role=st.sampled_from((None, *ROLES)),
        param_scale=st.sampled_from((0.0, 1e-3, 1.0, 1e3)),
        grad_scale=st.sampled_from((None, 0.0, 1e-8, 1e-3, 1.0, 1e3, 1e12)),
        group=st.integers(0, 2),
        seed=st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=6,
)


def build_param_groups(specs: list[ParameterSpec]) -> list[dict[str, Any]]:
    """Optimizer-style parameter groups holding the parameters ``specs`` describe."""
    groups: list[dict[str, Any]] = [{"params": []} for _ in range(3)]
    for spec in specs:
        generator = torch.Generator().manual_seed(spec.seed)
        param = torch.nn.Parameter(spec.param_scale * torch.randn(spec.shape, generator=generator))
        if spec.role is not None:
            mark(param, spec.role)
        if spec.grad_scale is not None:
            param.grad = spec.grad_scale * torch.randn(spec.shape, generator=generator)
        groups[spec.group]["params"].append(param)
    return [group for group in groups if group["params"]]


def _check_norms(norms: Any, where: str) -> None:
    assert isinstance(norms, Mapping), f"{where} returned {type(norms).__name__}, not a dict of norms"
    for key, value in norms.items():
        assert isinstance(key, str), f"{where} returned the key {key!r}, not a string"
        assert isinstance(value, torch.Tensor) and value.dim() == 0, (
            f"{where} returned {key!r}={value!r}, not a 0-dim tensor (a float would need a host sync)"
        )
        assert bool(torch.isfinite(value)) and bool(value >= 0), f"{where} returned {key!r}={value}"


def check_clipping(factory: Callable[..., Any], /, *, max_examples: int = 50, **options: Any) -> None:
    """Check that ``factory(**options)`` builds a clipping strategy honouring the contract
    (:class:`qembed.plugins.contracts.ClippingStrategy`).

    On generated parameter groups (random shapes; some parameters with a role, some
    without a gradient; gradients zero, tiny or huge up to 1e12) the strategy must
    return a dict of finite, non-negative 0-dim tensors; leave gradients finite and
    parameter values untouched; never increase any gradient's norm; skip parameters
    without a gradient; and change already-clipped gradients no further (clipping is a
    projection), within a relative tolerance of ``RTOL``. Raises ``AssertionError``
    with the failing input.
    """
    strategy = factory(**options)
    label = f"{getattr(factory, '__name__', factory)!s}(**{options!r})"
    assert_members(strategy, ClippingStrategy, label)

    @settings(max_examples=max_examples, deadline=None, database=None)
    @given(specs=parameter_specs)
    def holds_the_contract(specs: list[ParameterSpec]) -> None:
        groups = build_param_groups(specs)
        params = [p for group in groups for p in group["params"]]
        values = [p.detach().clone() for p in params]
        grads = [None if p.grad is None else p.grad.clone() for p in params]
        where = f"{label} on {specs!r}"

        _check_norms(strategy(groups), where)
        for index, (param, value, grad) in enumerate(zip(params, values, grads)):
            at = f"{where}, parameter {index}"
            assert torch.equal(param.detach(), value), f"{at}: the parameter's values changed"
            if grad is None:
                assert param.grad is None, f"{at}: a parameter without gradient got one"
                continue
            assert param.grad is not None, f"{at}: the gradient was removed"
            assert bool(torch.isfinite(param.grad).all()), f"{at}: the gradient is no longer finite"
            before, after = torch.linalg.vector_norm(grad), torch.linalg.vector_norm(param.grad)
            assert bool(after <= before * (1 + RTOL)), f"{at}: the gradient's norm grew from {before} to {after}"

        clipped = [None if p.grad is None else p.grad.clone() for p in params]
        strategy(groups)
        for index, (param, once) in enumerate(zip(params, clipped)):
            if once is not None:
                assert torch.allclose(param.grad, once, rtol=RTOL, atol=ATOL), (
                    f"{where}, parameter {index}: clipping clipped gradients changed them again "
                    f"(by up to {(param.grad - once).abs().max()})"
                )

    holds_the_contract()
