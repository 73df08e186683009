"""The built-in clipping strategies: what each bounds, the norms they report, that they
never read tensors on the host, and that ``check_clipping`` can fail."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed import plugins
from qembed.models import QuantumClassifier
from qembed.nn import role_of
from qembed.plugins import ComponentOptionError
from qembed.testing import check_clipping
from qembed.testing.clipping import ParameterSpec, build_param_groups, parameter_specs
from qembed.training.optimizers import QuantumOptimizer
from tests.host_reads import host_reads_refused

NAMES = ("none", "global_norm", "separate", "value", "adaptive")
TOL = 1e-5
max_norms = st.floats(1e-3, 1e3)
SOME_PARAMETERS = [
    ParameterSpec(shape=(3, 4), role=None, param_scale=1.0, grad_scale=1e3, group=0, seed=1),
    ParameterSpec(shape=(4,), role="entanglement", param_scale=1.0, grad_scale=1.0, group=0, seed=2),
    ParameterSpec(shape=(), role="superposition", param_scale=1.0, grad_scale=None, group=1, seed=3),
    ParameterSpec(shape=(2, 2, 2), role="collapse", param_scale=1e-3, grad_scale=0.0, group=1, seed=4),
]


def clipping(name: str, **options: object):
    return plugins.create("clipping", name, **options)


def with_gradients(groups: list[dict]) -> list[torch.Tensor]:
    return [p for group in groups for p in group["params"] if p.grad is not None]


def norm64(tensors: list[torch.Tensor]) -> float:
    """The 2-norm of ``tensors`` together, computed independently in float64."""
    return math.sqrt(sum(float(t.double().square().sum()) for t in tensors))




# --- what each strategy bounds ----------------------------------------------------------


@given(specs=parameter_specs, max_norm=max_norms)
def test_global_norm_bounds_the_total_norm_and_keeps_the_direction(specs, max_norm):
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    before = [p.grad.double().clone() for p in params]
    total = norm64(before)
    clipping("global_norm", max_norm=max_norm)(groups)
    assert norm64([p.grad for p in params]) <= max_norm * (1 + TOL)
    factor = min(1.0, max_norm / total) if total > 0 else 1.0
    for p, grad in zip(params, before):
        torch.testing.assert_close(p.grad.double(), grad * factor, rtol=TOL, atol=1e-30)


@given(specs=parameter_specs, max_norm=max_norms, part=st.sampled_from(["quantum", "classical"]))
def test_global_norm_of_one_part_bounds_that_part_and_leaves_the_other_untouched(specs, max_norm, part):
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    before = {id(p): p.grad.clone() for p in params}
    norms = clipping("global_norm", max_norm=max_norm, parameters=part)(groups)
    chosen = [p for p in params if (role_of(p) is not None) == (part == "quantum")]
    total = norm64([before[id(p)] for p in chosen])
    assert norm64([p.grad for p in chosen]) <= max_norm * (1 + TOL)
    factor = min(1.0, max_norm / total) if total > 0 else 1.0
    for p in params:
        if any(p is c for c in chosen):
            torch.testing.assert_close(p.grad.double(), before[id(p)].double() * factor, rtol=TOL, atol=1e-30)
        else:
            assert torch.equal(p.grad, before[id(p)])  # the other part is never touched
    if chosen:
        assert float(norms[f"grad_norm/{part}"]) == pytest.approx(total, rel=TOL, abs=1e-30)


@given(specs=parameter_specs, quantum_max_norm=max_norms, classical_max_norm=max_norms)
def test_separate_bounds_each_part_by_its_own_max(specs, quantum_max_norm, classical_max_norm):
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    before = {id(p): p.grad.double().clone() for p in params}
    clipping("separate", quantum_max_norm=quantum_max_norm, classical_max_norm=classical_max_norm)(groups)
    for quantum, max_norm in ((True, quantum_max_norm), (False, classical_max_norm)):
        part = [p for p in params if (role_of(p) is not None) == quantum]
        total = norm64([before[id(p)] for p in part])
        assert norm64([p.grad for p in part]) <= max_norm * (1 + TOL)
        factor = min(1.0, max_norm / total) if total > 0 else 1.0
        for p in part:
            torch.testing.assert_close(p.grad.double(), before[id(p)] * factor, rtol=TOL, atol=1e-30)


@given(specs=parameter_specs, clip_value=max_norms)
def test_value_bounds_every_entry_and_leaves_small_ones(specs, clip_value):
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    before = [p.grad.clone() for p in params]
    clipping("value", clip_value=clip_value)(groups)
    for p, grad in zip(params, before):
        assert torch.equal(p.grad, grad.clamp(-clip_value, clip_value))


def unit_norms(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.double()
    if tensor.dim() < 2:
        return tensor.norm().reshape(1)
    return tensor.reshape(tensor.shape[0], -1).norm(dim=1)


@given(specs=parameter_specs, factor=st.floats(1e-3, 1.0), eps=st.floats(1e-6, 1e-1))
def test_adaptive_bounds_every_units_gradient_to_weight_ratio(specs, factor, eps):
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    before = [p.grad.clone() for p in params]
    clipping("adaptive", clipping=factor, eps=eps)(groups)
    for p, grad in zip(params, before):
        limit = factor * unit_norms(p).clamp_min(eps)
        assert (unit_norms(p.grad) <= limit * (1 + TOL)).all()
        untouched = unit_norms(grad) <= limit  # one entry per row, or one for the whole tensor
        if p.dim() >= 2:
            torch.testing.assert_close(p.grad[untouched], grad[untouched], rtol=TOL, atol=0.0)
        elif untouched.all():
            torch.testing.assert_close(p.grad, grad, rtol=TOL, atol=0.0)


REPORTING = [(name, {"clipping": 1e-3} if name == "adaptive" else {}) for name in NAMES[1:]] + [
    ("global_norm", {"max_norm": 1e-3, "parameters": "quantum"}),
    ("global_norm", {"max_norm": 1e-3, "parameters": "classical"}),
]


@given(strategy=st.sampled_from(REPORTING), specs=parameter_specs)
def test_reported_norms_are_the_pre_clip_norms(strategy, specs):
    name, options = strategy
    groups = build_param_groups(specs)
    params = with_gradients(groups)
    quantum = [p.grad.clone() for p in params if role_of(p) is not None]
    classical = [p.grad.clone() for p in params if role_of(p) is None]
    norms = clipping(name, **options)(groups)
    expected = {"grad_norm/quantum": quantum, "grad_norm/classical": classical, "grad_norm": quantum + classical}
    assert set(norms) == {key for key, grads in expected.items() if grads}
    for key, value in norms.items():
        assert value.dim() == 0
        assert float(value) == pytest.approx(norm64(expected[key]), rel=TOL, abs=1e-30)


def test_none_clips_nothing_and_reports_nothing():
    groups = build_param_groups(SOME_PARAMETERS)
    before = [p.grad for p in with_gradients(groups)]
    snapshot = [g.clone() for g in before]
    assert clipping("none")(groups) == {}
    assert all(torch.equal(g, s) for g, s in zip(before, snapshot))


def test_strategies_take_an_optimizers_param_groups_or_plain_parameters():
    torch.manual_seed(0)
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2)
    optimizer = QuantumOptimizer(model.parameters(), lr=1e-3)
    model(torch.randint(0, 50, (4, 7)), labels=torch.tensor([0, 1, 2, 0])).loss.backward()
    norms = clipping("separate", quantum_max_norm=0.1, classical_max_norm=0.2)(optimizer.param_groups)
    assert set(norms) == {"grad_norm", "grad_norm/quantum", "grad_norm/classical"}
    again = clipping("separate", quantum_max_norm=0.1, classical_max_norm=0.2)(model.parameters())
    assert float(again["grad_norm/quantum"]) <= 0.1 * (1 + TOL)
    assert float(again["grad_norm/classical"]) <= 0.2 * (1 + TOL)


# --- no host-device synchronisation ---------------------------------------------------------


@pytest.mark.parametrize(("name", "options"), [(name, {}) for name in NAMES] + [
    ("global_norm", {"parameters": "quantum"}),
])
def test_strategies_never_read_tensors_on_the_host(name, options):
    groups = build_param_groups(SOME_PARAMETERS)
    strategy = clipping(name, **options)
    with host_reads_refused():
        norms = strategy(groups)
    assert all(isinstance(value, torch.Tensor) for value in norms.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_strategies_never_synchronise_with_the_gpu(name):
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2).cuda()
    model(torch.randint(0, 50, (4, 7), device="cuda"), labels=torch.tensor([0, 1, 2, 0], device="cuda")).loss.backward()
    strategy = clipping(name)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        norms = strategy([{"params": list(model.parameters())}])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(value.device.type == "cuda" for value in norms.values())


# --- the contract check -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options"), [
    ("none", {}),
    ("global_norm", {}),
    ("global_norm", {"max_norm": 1e-2, "norm_type": math.inf}),
    ("global_norm", {"max_norm": 1e-2, "parameters": "quantum"}),
    ("global_norm", {"max_norm": 1e-2, "parameters": "classical", "norm_type": 1.0}),
    ("separate", {"quantum_max_norm": 0.5, "classical_max_norm": 5.0, "norm_type": 1.0}),
    ("value", {"clip_value": 1e-3}),
    ("adaptive", {}),
    ("adaptive", {"clipping": 0.5, "eps": 1e-6}),
])
def test_every_registered_strategy_passes_the_contract_check(name, options):
    check_clipping(plugins.available("clipping")[name].factory, **options)


def scale_up(groups):
    for group in groups:
        for p in group["params"]:
            if p.grad is not None:
                p.grad.mul_(2.0)
    return {}


def halve(groups):
    for group in groups:
        for p in group["params"]:
            if p.grad is not None:
                p.grad.mul_(0.5)
    return {}


def report_floats(groups):
    return {"grad_norm": 1.0}


def move_parameters(groups):
    for group in groups:
        for p in group["params"]:
            p.data.add_(1.0)
    return {}


@pytest.mark.parametrize(("broken", "message"), [
    (scale_up, "norm grew"),
    (halve, "changed them again"),
    (report_floats, "not a 0-dim tensor"),
    (move_parameters, "values changed"),
])
def test_the_contract_check_fails_a_broken_strategy(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_clipping(lambda: broken, max_examples=20)


# --- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options", "option"), [
    ("global_norm", {"max_norm": 0.0}, "max_norm"),
    ("global_norm", {"norm_type": -2.0}, "norm_type"),
    ("global_norm", {"parameters": "entanglement"}, "parameters"),
    ("global_norm", {"parameters": None}, "parameters"),
    ("separate", {"quantum_max_norm": -1.0}, "quantum_max_norm"),
    ("separate", {"classical_max_norm": "big"}, "classical_max_norm"),
    ("value", {"clip_value": 0}, "clip_value"),
    ("adaptive", {"clipping": 0.0}, "clipping"),
    ("adaptive", {"eps": float("nan")}, "eps"),
])
def test_bad_options_raise_errors_naming_the_option(name, options, option):
    with pytest.raises(ComponentOptionError, match=option):
        clipping(name, **options)
