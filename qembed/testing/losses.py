"""Contract check for losses, and the generated model outputs it uses."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor

from qembed.nn.output import QuantumOutput
from qembed.plugins.contracts import Loss
from qembed.testing.members import assert_members
from qembed.training.loss_call import LossCall

LOGIT_BOUND = 1e4  # generated logits lie in [-LOGIT_BOUND, LOGIT_BOUND]
IGNORE_INDEX = -100
_DIFFERENTIABLE_FIELDS = ("logits", "uncertainty", "superposition", "entanglement", "pair_entanglement",
                          "sample_logits")
_RTOL, _ATOL = 1e-4, 1e-5
_T = TypeVar("_T")

_logit_values = st.floats(-LOGIT_BOUND, LOGIT_BOUND, allow_nan=False, width=32)
_unit_values = st.floats(0.0, 1.0, width=32)
_booleans = st.booleans()


def _tensor(draw: st.DrawFn, shape: Sequence[int], elements: st.SearchStrategy, label: str,
            dtype: torch.dtype = torch.float32) -> Tensor:
    size = math.prod(shape)
    values = draw(st.lists(elements, min_size=size, max_size=size), label=label)
    return torch.tensor(values, dtype=dtype).reshape(*shape)


@st.composite
def loss_inputs(
    draw: st.DrawFn,
    num_classes: int | None = None,
    num_samples: int | None = None,
    token_level: bool | None = None,
) -> tuple[QuantumOutput, Tensor]:
    """``(outputs, labels)``: a :class:`QuantumOutput` with class-level ``[B, C]`` or
    token-level ``[B, T, C]`` logits in ±1e4 (labels ``[B]``, or ``[B, T]`` with some
    -100 and at least one real label), and each optional field present or not:
    ``uncertainty``, ``superposition``, ``entanglement`` ``[B]`` and
    ``pair_entanglement`` ``[B, T, P]`` in [0, 1], ``pair_mask``, and
    ``sample_logits`` ``[S, *logits.shape]`` (``S = num_samples`` when given).
    ``token_level=None`` draws both kinds."""
    is_token_level = draw(_booleans, label="token_level") if token_level is None else token_level
    batch = draw(st.integers(1, 3), label="batch")
    tokens = draw(st.integers(1, 3), label="tokens")
    classes = num_classes or draw(st.integers(2, 4), label="num_classes")
    lead = (batch, tokens) if is_token_level else (batch,)
    logits = _tensor(draw, (*lead, classes), _logit_values, "logits")
    real_labels = st.integers(0, classes - 1)
    label_values = st.one_of(st.just(IGNORE_INDEX), real_labels) if is_token_level else real_labels
    labels = _tensor(draw, lead, label_values, "labels", torch.long)
    if (labels == IGNORE_INDEX).all():
        labels.view(-1)[0] = 0  # a batch with no real label has no task loss to speak of
    fields: dict[str, Tensor | None] = {}
    for name in ("uncertainty", "superposition", "entanglement"):
        if draw(_booleans, label=f"has_{name}"):
            fields[name] = _tensor(draw, (batch,), _unit_values, name)
    if draw(_booleans, label="has_pair_entanglement"):
        pairs = draw(st.integers(1, 3), label="pairs")
        fields["pair_entanglement"] = _tensor(draw, (batch, tokens, pairs), _unit_values, "pair_entanglement")
        if draw(_booleans, label="has_pair_mask"):
            fields["pair_mask"] = _tensor(draw, (batch, tokens, pairs), _booleans, "pair_mask", torch.bool)
    if draw(_booleans, label="has_sample_logits"):
        samples = num_samples or draw(st.integers(2, 3), label="num_samples")
        fields["sample_logits"] = _tensor(draw, (samples, *logits.shape), _logit_values, "sample_logits")
    return QuantumOutput(logits=logits, **fields), labels


def _with_leaves(outputs: QuantumOutput) -> tuple[QuantumOutput, dict[str, Tensor]]:
    """A copy whose float fields are fresh leaves requiring grad, and those leaves."""
    leaves = {
        name: getattr(outputs, name).detach().clone().requires_grad_()
        for name in _DIFFERENTIABLE_FIELDS
        if getattr(outputs, name) is not None
    }
    return dataclasses.replace(outputs, **leaves), leaves


def _permuted(outputs: QuantumOutput, labels: Tensor, order: Tensor) -> tuple[QuantumOutput, Tensor]:
    """The same batch with its examples in ``order`` (``sample_logits`` along dim 1)."""
    changes = {}
    for field in dataclasses.fields(outputs):
        value = getattr(outputs, field.name)
        if value is not None:
            changes[field.name] = value[:, order] if field.name == "sample_logits" else value[order]
    return dataclasses.replace(outputs, **changes), labels[order]


def _describe(outputs: QuantumOutput, labels: Tensor) -> str:
    present = ", ".join(f"{name}={getattr(outputs, name).detach()!r}" for name in outputs.keys())
    return f"labels={labels!r}, {present}"


def _close(a: Tensor, b: Tensor) -> bool:
    return bool(torch.isclose(a.detach().float(), b.detach().float(), rtol=_RTOL, atol=_ATOL))


def _evaluated(compute: Callable[[], _T], where: str) -> _T:
    """``compute()``, with any error it raises turned into an ``AssertionError``
    naming the failing inputs."""
    try:
        return compute()
    except Exception as err:  # a contract failure whatever the loss raised
        raise AssertionError(f"{where} raised {type(err).__name__}: {err}") from err


def check_loss(
    factory: Callable[..., Any],
    /,
    *,
    max_examples: int = 100,
    num_classes: int | None = None,
    token_level: bool | None = None,
    **options: Any,
) -> None:
    """Check that ``factory(**options)`` builds a loss honouring the contract
    (:class:`qembed.plugins.contracts.Loss`, with the optional ``ReportsTerms`` and
    ``DrawsSamples``).

    Over generated model outputs (:func:`loss_inputs`: logits up to ±1e4, fields
    in [0, 1] present or absent, class- and token-level with -100 labels; pass
    ``token_level=False`` for a classification-only loss, ``num_classes`` for a
    fixed class count), called exactly as the trainer calls it
    (:class:`qembed.training.loss_call.LossCall`), the loss must give a finite
    scalar tensor, have finite gradients with respect to the logits and every
    quantum field, and not depend on the order of the batch. A loss with
    ``loss_terms`` must report ``total == task + quantum >= task``, and its
    ``forward(outputs, labels)`` must return that ``total``. Raises
    ``AssertionError`` with the failing inputs.
    """
    loss = factory(**options)
    label = f"{getattr(factory, '__name__', factory)!s}(**{options!r})"
    assert_members(loss, Loss, label)
    call = LossCall(loss)

    @settings(max_examples=max_examples, deadline=None, database=None, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(inputs=loss_inputs(num_classes, call.mc_samples or None, token_level), data=st.data())
    def holds_the_contract(inputs: tuple[QuantumOutput, Tensor], data: st.DataObject) -> None:
        (outputs, leaves), labels = _with_leaves(inputs[0]), inputs[1]
        where = f"{label} on {_describe(outputs, labels)}"
        total, task, quantum = _evaluated(lambda: call(outputs, labels), where)
        assert isinstance(total, Tensor), f"{where} returned {type(total).__name__}, not a tensor"
        assert total.dim() == 0, f"{where} returned shape {tuple(total.shape)}, not a scalar"
        assert torch.isfinite(total), f"{where} returned {total.item()}, not finite"
        if total.requires_grad:
            grads = torch.autograd.grad(total, list(leaves.values()), allow_unused=True)
            for leaf_name, grad in zip(leaves, grads):
                assert grad is None or torch.isfinite(grad).all(), (
                    f"{where} has a non-finite gradient with respect to {leaf_name}: {grad!r}"
                )

        order = torch.tensor(data.draw(st.permutations(range(labels.shape[0])), label="batch_order"))
        shuffled = _evaluated(lambda: call(*_permuted(outputs, labels, order)).total, where)
        assert _close(shuffled, total), (
            f"{where} depends on the order of the batch: {total.item()} but {shuffled.item()} "
            f"with the examples in order {order.tolist()}"
        )

        if call.reports_terms:
            assert _close(total, task + quantum), (
                f"{where}: loss_terms total {total.item()} != task {task.item()} + quantum {quantum.item()}"
            )
            assert total >= task - _ATOL, f"{where}: loss_terms total {total.item()} < task {task.item()}"
            value = _evaluated(lambda: loss(outputs, labels), where)
            assert _close(value, total), f"{where}: forward gives {value}, loss_terms total {total.item()}"

    holds_the_contract()
