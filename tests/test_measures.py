"""Property tests of the quantum measures (DESIGN.md, "Model contract")."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qembed.nn import (
    coupled_state_entanglement,
    entanglement_entropy,
    masked_mean,
    predictive_entropy,
    sense_entropy,
    superposition_coherence,
)

TOL = 1e-4
num_states = st.integers(2, 8)
magnitudes = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=32),
    st.sampled_from([0.0, 1e-30, -1e-30, 1e-8, 1e30]),
)


def vectors(k: int, rows: int = 3) -> st.SearchStrategy[torch.Tensor]:
    return arrays(np.float32, (rows, k), elements=magnitudes).map(torch.from_numpy)


def orthogonal(k: int) -> st.SearchStrategy[torch.Tensor]:
    seeds = arrays(np.float32, (k, k), elements=st.floats(-1, 1, width=32))
    return seeds.map(lambda m: torch.linalg.qr(torch.from_numpy(m).double() + 3 * torch.eye(k).double())[0].float())


def unit(k: int) -> st.SearchStrategy[torch.Tensor]:
    raw = arrays(np.float32, (k,), elements=st.floats(-1, 1, width=32))
    return raw.filter(lambda v: np.linalg.norm(v) > 1e-2).map(lambda v: torch.from_numpy(v / np.linalg.norm(v)))


@given(data=st.data(), k=num_states)
def test_every_measure_is_finite_and_in_unit_interval(data, k):
    x = data.draw(vectors(k))
    psi = data.draw(arrays(np.float32, (2, k, k), elements=magnitudes).map(torch.from_numpy))
    for value in (sense_entropy(x.abs()), predictive_entropy(x), superposition_coherence(x), entanglement_entropy(psi)):
        assert torch.isfinite(value).all()
        assert ((value >= 0) & (value <= 1)).all()


@given(data=st.data(), k=num_states)
def test_every_measure_has_finite_gradients(data, k):
    x = data.draw(vectors(k)).requires_grad_()
    psi = data.draw(arrays(np.float32, (2, k, k), elements=st.floats(-1e3, 1e3, width=32)))
    psi = torch.from_numpy(psi).requires_grad_()
    total = (sense_entropy(x.abs()) + predictive_entropy(x) + superposition_coherence(x)).sum()
    total = total + entanglement_entropy(psi).sum()
    total.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(psi.grad).all()


@given(k=num_states, index=st.integers(0, 7), scale=st.floats(1e-6, 1e6))
def test_collapsed_state_has_zero_entropy_and_zero_coherence(k, index, scale):
    basis = torch.zeros(k)
    basis[index % k] = scale
    assert sense_entropy(basis).item() == 0.0
    assert superposition_coherence(basis).item() < TOL


@given(k=num_states, scale=st.floats(1e-6, 1e6))
def test_uniform_superposition_has_entropy_one_and_coherence_one(k, scale):
    uniform = torch.full((k,), scale)
    assert abs(sense_entropy(uniform).item() - 1) < TOL
    assert abs(superposition_coherence(uniform).item() - 1) < TOL


@given(data=st.data(), k=num_states)
def test_sense_measures_ignore_the_order_and_sign_of_senses(data, k):
    x = data.draw(vectors(k, rows=1))[0]
    order = torch.tensor(data.draw(st.permutations(range(k))))
    signs = torch.tensor(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=k, max_size=k)))
    assert torch.allclose(sense_entropy(x.abs()), sense_entropy(x.abs()[order]), atol=TOL)
    assert torch.allclose(superposition_coherence(x), superposition_coherence(x[order] * signs), atol=TOL)


@given(data=st.data(), k=num_states)
def test_product_states_are_not_entangled(data, k):
    a, b = data.draw(unit(k)), data.draw(unit(k))
    assert entanglement_entropy(torch.outer(a, b)).item() < TOL


@given(data=st.data(), k=num_states)
def test_maximally_entangled_states_have_entropy_one(data, k):
    u = data.draw(orthogonal(k))
    assert abs(entanglement_entropy(u / math.sqrt(k)).item() - 1) < TOL


@given(data=st.data(), k=num_states)
def test_entanglement_is_invariant_to_local_orthogonal_transforms_and_transposition(data, k):
    psi = torch.from_numpy(data.draw(arrays(np.float32, (k, k), elements=st.floats(-1, 1, width=32))))
    assume(torch.linalg.matrix_norm(psi) > 1e-2)
    o1, o2 = data.draw(orthogonal(k)), data.draw(orthogonal(k))
    value = entanglement_entropy(psi)
    assert abs(entanglement_entropy(o1 @ psi @ o2.T) - value) < 1e-3
    assert abs(entanglement_entropy(psi.T) - value) < TOL


@given(data=st.data(), k=num_states, length=st.integers(2, 6))
def test_masked_positions_never_change_a_measure(data, k, length):
    x = data.draw(arrays(np.float32, (2, length, k), elements=st.floats(-10, 10, width=32)))
    noise = data.draw(arrays(np.float32, (2, length, k), elements=magnitudes))
    mask = torch.from_numpy(data.draw(arrays(np.bool_, (2, length))))
    x, noise = torch.from_numpy(x), torch.from_numpy(noise)
    changed = torch.where(mask.unsqueeze(-1), x, noise)
    for measure in (lambda v, m: sense_entropy(v.abs(), m), predictive_entropy, superposition_coherence):
        before, after = measure(x, mask), measure(changed, mask)
        assert torch.equal(before, after)
        assert torch.equal(masked_mean(before, mask), masked_mean(after, mask))
        assert (before[~mask] == 0).all()


@given(strength=st.floats(0, 50), data=st.data(), k=num_states)
def test_closed_form_pair_entanglement_matches_the_schmidt_decomposition(strength, data, k):
    a, b, q = data.draw(unit(k)), data.draw(unit(k)), data.draw(orthogonal(k))
    psi = torch.outer(a, b) + strength * q
    closed = coupled_state_entanglement(torch.tensor(strength), a @ (q @ b), k)
    assert abs(closed.item() - entanglement_entropy(psi).item()) < 1e-3


def test_predictive_entropy_is_zero_for_certain_and_one_for_uniform_predictions():
    assert predictive_entropy(torch.tensor([1e4, -1e4, -1e4])).item() < TOL
    assert abs(predictive_entropy(torch.zeros(5)).item() - 1) < TOL


def test_subnormal_inputs_give_finite_gradients():
    """Regression: a vector of subnormal floats once gave NaN and 1e38 gradients."""
    x = torch.tensor([[0.0, 1.4013e-45], [1.4013e-45, 1.4013e-45]], requires_grad=True)
    (sense_entropy(x.abs()) + superposition_coherence(x)).sum().backward()
    assert torch.isfinite(x.grad).all()
    psi = torch.full((2, 2), 1.4013e-45, requires_grad=True)
    entanglement_entropy(psi).backward()
    assert torch.isfinite(psi.grad).all()
