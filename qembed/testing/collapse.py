"""Contract check for collapse strategies, and the generated inputs it uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor

from qembed.nn import CollapseStrategy
from qembed.plugins.contracts import Collapse
from qembed.testing.phases import PHASES

ATOL = 1e-5
ROW_KINDS = ("random", "sparse", "one_hot", "uniform")  # sense probability rows the inputs mix
AGREEMENT_SCALES = (0.0, 1.0, 100.0)


@st.composite
def collapse_inputs(draw: st.DrawFn) -> tuple[Tensor, Tensor, Tensor]:
    """``(probabilities, agreement, mask)``: sense probabilities ``[B, T, K]`` whose
    rows sum to 1 (each row random, random with zeros, one-hot or uniform), agreement
    ``[B, T, K]`` of scale 0, 1 or 100 and a boolean attention mask ``[B, T]`` (any
    pattern, all padding included); values come from a drawn seed."""
    batch, tokens = draw(st.integers(1, 3), label="batch"), draw(st.integers(1, 4), label="tokens")
    senses = draw(st.integers(2, 5), label="senses")
    kinds = draw(st.lists(st.sampled_from(ROW_KINDS), min_size=batch * tokens, max_size=batch * tokens),
                 label="row_kinds")
    scale = draw(st.sampled_from(AGREEMENT_SCALES), label="agreement_scale")
    mask = draw(st.lists(st.booleans(), min_size=batch * tokens, max_size=batch * tokens), label="mask")
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="seed"))
    raw = torch.rand(batch * tokens, senses, generator=generator)
    drop = torch.rand(raw.shape, generator=generator) < 0.5
    for row, kind in enumerate(kinds):
        if kind == "sparse":
            raw[row, 1:] *= ~drop[row, 1:]  # zeros, but never a row of zeros
        elif kind == "one_hot":
            raw[row] = torch.nn.functional.one_hot(raw[row].argmax(), senses)
        elif kind == "uniform":
            raw[row] = 1.0
    agreement = scale * torch.randn(raw.shape, generator=generator)
    shape = (batch, tokens, senses)
    return ((raw / raw.sum(-1, keepdim=True)).reshape(shape), agreement.reshape(shape),
            torch.tensor(mask).reshape(batch, tokens))


def check_collapse(factory: Callable[..., Any], /, *, max_examples: int = 100, **options: Any) -> None:
    """Check that ``factory(**options)`` builds a collapse strategy honouring the contract
    (:class:`qembed.plugins.contracts.Collapse`).

    It must be a :class:`qembed.nn.CollapseStrategy`. Called as ``QuantumEmbeddings``
    calls it, on generated inputs (:func:`collapse_inputs`; agreement only when
    ``uses_context``), in training and in evaluation mode, it must return finite
    sense weights of the probabilities' shape, a distribution over the senses (one-hot
    or soft) at every real token, with a finite gradient reaching the probabilities
    (straight-through for a hard choice); it must leave its inputs unchanged and be
    deterministic in evaluation. Raises ``AssertionError`` with the failing inputs.
    """
    strategy = factory(**options)
    label = f"{getattr(factory, '__name__', factory)!s}(**{options!r})"
    assert isinstance(strategy, CollapseStrategy), (
        f"{label} built a {type(strategy).__name__}, not a qembed.nn.CollapseStrategy"
    )

    @settings(max_examples=max_examples, deadline=None, database=None, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow])
    @given(inputs=collapse_inputs(), training=st.booleans(), seed=st.integers(0, 2**32 - 1))
    def holds_the_contract(inputs: tuple[Tensor, Tensor, Tensor], training: bool, seed: int) -> None:
        probabilities, agreement, mask = inputs
        strategy.train(training)
        mode = "training" if training else "evaluation"

        def where() -> str:  # only on failure: a tensor's repr costs more than the check
            return f"{label} in {mode} on probabilities={probabilities!r}, agreement={agreement!r}, mask={mask!r}"

        leaves = [probabilities.clone().requires_grad_()]
        if strategy.uses_context:
            leaves.append(agreement.clone().requires_grad_())
        call = (leaves[0], leaves[1] if strategy.uses_context else None, mask.clone())
        try:
            weights = strategy(*call)
        except Exception as err:  # a contract failure whatever the strategy raised
            raise AssertionError(f"{where()} raised {type(err).__name__}: {err}") from err

        assert isinstance(weights, Tensor), f"{where()} returned {type(weights).__name__}, not a tensor"
        assert weights.shape == probabilities.shape, (
            f"{where()} returned shape {tuple(weights.shape)}, not {tuple(probabilities.shape)}"
        )
        assert bool(torch.isfinite(weights).all()), f"{where()} returned non-finite weights {weights!r}"
        real = weights[mask].detach()
        assert bool((real >= -ATOL).all()) and torch.allclose(real.sum(-1), torch.ones(len(real)), atol=ATOL), (
            f"{where()}: the weights of real tokens are not distributions over the senses: {real!r}"
        )
        for name, passed, original in zip(("probabilities", "agreement"), leaves, (probabilities, agreement)):
            assert torch.equal(passed.detach(), original), f"{where()} changed the {name} in place"
        assert torch.equal(call[2], mask), f"{where()} changed the mask in place"
        assert weights.requires_grad, f"{where()}: no gradient reaches the probabilities (use a straight-through one)"
        coefficients = torch.randn(weights.shape, generator=torch.Generator().manual_seed(seed))
        grads = torch.autograd.grad((weights * coefficients).sum(), leaves, allow_unused=True)
        assert grads[0] is not None, f"{where()}: no gradient reaches the probabilities"
        for leaf_name, grad in zip(("probabilities", "agreement"), grads):
            assert grad is None or bool(torch.isfinite(grad).all()), (
                f"{where()} has a non-finite gradient with respect to the {leaf_name}: {grad!r}"
            )
        if not training:
            again = strategy(*call)
            assert torch.equal(again, weights), f"{where()} is not deterministic in evaluation"

    holds_the_contract()
