"""The quantum-aware optimizers: grouping by role, per-group learning rates, the
entanglement projection, the uncertainty rule, and torch compatibility (state_dict,
LR schedulers, GradScaler, the plugin registry)."""

from __future__ import annotations

import io

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.nn import EntanglementLayer, role_of, set_collapse_probability
from qembed.plugins import ComponentOptionError
from qembed.training.optimizers import EntanglementOptimizer, QuantumOptimizer, UncertaintyOptimizer
from tests.host_reads import host_reads_refused

OPTIMIZERS = [
    (QuantumOptimizer, {"lr": 1e-3, "quantum_learning_rate": 1e-2}),
    (EntanglementOptimizer, {"lr": 1e-3, "entanglement_lr": 1e-2, "weight_decay": 0.1}),
    (UncertaintyOptimizer, {"lr": 1e-3, "uncertainty_threshold": 0.3}),
]


def make_model(seed: int = 0) -> QuantumClassifier:
    torch.manual_seed(seed)
    return QuantumClassifier(50, 3, embedding_dim=16, num_heads=2, dropout=0.0)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 50, (4, 7), generator=generator), torch.randint(0, 3, (4,), generator=generator)


def loss_of(model: QuantumClassifier, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)  # the same collapse samples for twin models
    input_ids, labels = batch(seed)
    return model(input_ids, labels=labels).loss


def train_step(model: QuantumClassifier, optimizer: torch.optim.Optimizer, seed: int = 0) -> None:
    optimizer.zero_grad()
    loss_of(model, seed).backward()
    optimizer.step()


def params_of(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]




# --- the seed's snippets and grouping by role ------------------------------------


def test_the_seed_snippets_build_real_optimizers():
    model = quantum_model = make_model()
    optimizers = [
        QuantumOptimizer(quantum_model.parameters(), lr=2e-5),
        QuantumOptimizer(model.parameters(), lr=2e-5, quantum_learning_rate=1e-4),
        EntanglementOptimizer(model.parameters(), lr=2e-5, entanglement_lr=5e-5),
        UncertaintyOptimizer(model.parameters(), lr=2e-5, uncertainty_threshold=0.5),
    ]
    for optimizer in optimizers:
        assert isinstance(optimizer, torch.optim.AdamW)
        train_step(model, optimizer)


@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS)
def test_groups_hold_every_parameter_once_by_role(cls, options):
    model = make_model()
    optimizer = cls(model.parameters(), **options)
    grouped = [p for group in optimizer.param_groups for p in group["params"]]
    assert sorted(map(id, grouped)) == sorted(id(p) for p in model.parameters())
    for group in optimizer.param_groups:
        roles = {role_of(p) for p in group["params"]}
        expected = {"classical": {None}, "entanglement": {"entanglement"}}.get(group["role"])
        if expected is None:  # "quantum": every role but those with a group of their own
            assert None not in roles
            assert not roles & {g["role"] for g in optimizer.param_groups}
        else:
            assert roles == expected


def test_quantum_optimizer_puts_every_quantum_parameter_at_the_quantum_rate():
    model = make_model()
    optimizer = QuantumOptimizer(model.parameters(), lr=2e-5, quantum_learning_rate=1e-4)
    by_role = {group["role"]: group for group in optimizer.param_groups}
    assert set(by_role) == {"classical", "quantum"}
    assert by_role["classical"]["lr"] == 2e-5 and by_role["quantum"]["lr"] == 1e-4
    assert {role_of(p) for p in by_role["quantum"]["params"]} == {"superposition", "entanglement", "collapse"}
    assert all(group["lr"] == 2e-5 for group in QuantumOptimizer(model.parameters(), lr=2e-5).param_groups)


def test_entanglement_optimizer_gives_entanglement_parameters_their_rate():
    model = make_model()
    optimizer = EntanglementOptimizer(model.parameters(), lr=2e-5, entanglement_lr=5e-5, weight_decay=0.0)
    lrs = {group["role"]: group["lr"] for group in optimizer.param_groups}
    assert lrs == {"classical": 2e-5, "quantum": 2e-5, "entanglement": 5e-5}


def test_explicit_groups_with_an_lr_are_kept_and_others_split_by_role():
    model = make_model()
    head = list(model.head.parameters())
    rest = [p for p in model.parameters() if all(p is not h for h in head)]
    optimizer = QuantumOptimizer([{"params": head, "lr": 0.5}, {"params": rest, "betas": (0.8, 0.9)}],
                                 lr=1e-3, quantum_learning_rate=1e-2)
    custom, *split = optimizer.param_groups
    assert custom["role"] == "custom" and custom["lr"] == 0.5 and custom["params"] == head
    assert [(g["role"], g["lr"], g["betas"]) for g in split] == [("classical", 1e-3, (0.8, 0.9)),
                                                                  ("quantum", 1e-2, (0.8, 0.9))]


def test_named_parameters_are_grouped_by_role_too():
    model = make_model()
    optimizer = QuantumOptimizer(model.named_parameters(), lr=1e-3, quantum_learning_rate=1e-2)
    quantum = next(g for g in optimizer.param_groups if g["role"] == "quantum")
    assert "encoder.entanglement.coupling_generator" in quantum["param_names"]
    train_step(model, optimizer)


# --- the entanglement projection ---------------------------------------------------


def test_entanglement_optimizer_keeps_the_generator_skew_symmetric_and_the_coupling_orthogonal():
    layer = EntanglementLayer(8, 5)
    optimizer = EntanglementOptimizer(layer.parameters(), lr=0.05, entanglement_lr=0.1, weight_decay=0.5)
    hidden = torch.randn(2, 6, 8)
    amplitudes = torch.nn.functional.normalize(torch.randn(2, 6, 5), dim=-1)
    for _ in range(5):
        optimizer.zero_grad()
        output = layer(hidden, amplitudes)
        (output.hidden_states.square().mean() - output.entanglement.mean()).backward()
        optimizer.step()
        generator = layer.coupling_generator.detach()
        torch.testing.assert_close(generator, -generator.T, rtol=0, atol=1e-7)
        coupling = layer.coupling()
        torch.testing.assert_close(coupling @ coupling.T, torch.eye(5), rtol=0, atol=1e-5)


def test_projection_does_not_move_the_coupling():
    layer = EntanglementLayer(8, 5)
    with torch.no_grad():
        layer.coupling_generator.add_(torch.randn(5, 5))  # far from skew-symmetric
    before = layer.coupling().detach()
    optimizer = EntanglementOptimizer(layer.parameters(), lr=1e-3)
    optimizer.step()  # no gradients: only the projection acts
    torch.testing.assert_close(layer.coupling(), before)


# --- the uncertainty rule -------------------------------------------------------------


def expected_scales(observed: list[float], threshold: float, min_scale: float, momentum: float) -> list[float]:
    """The documented rule, in plain floats: one step after each observation."""
    scales, mean = [], None
    for u in (float(torch.tensor(u)) for u in observed):  # observed in float32
        mean = u if mean is None else mean
        reference = max(mean, threshold)
        scales.append(1.0 if u <= reference else max(min_scale, reference / u))
        mean = momentum * mean + (1 - momentum) * u
    return scales


def run_rule(observed: list[float], **options) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = UncertaintyOptimizer([param], lr=1e-3, **options)
    scales = []
    for u in observed:
        param.grad = torch.ones(3)
        optimizer.observe_uncertainty(torch.tensor(u))
        scales.append(float(optimizer.update_scale()))
        optimizer.step()
    return scales


@pytest.mark.parametrize(("observed", "scales"), [
    ([0.98, 0.98, 0.98], [1.0, 1.0, 1.0]),  # a high constant uncertainty: AdamW's steps
    ([1.0, 0.6, 0.3, 0.1], [1.0, 1.0, 1.0, 1.0]),  # falling: AdamW's steps
    ([0.2, 0.9], [1.0, 0.5 / 0.9]),  # above the threshold and the running mean: shrunk
    ([0.6, 0.9], [1.0, 0.6 / 0.9]),  # the running mean is the reference once above the threshold
    ([0.4, 0.45], [1.0, 1.0]),  # more than the running mean but below the threshold: not shrunk
])
def test_uncertainty_scale_follows_the_documented_rule(observed, scales):
    optimizer = UncertaintyOptimizer(make_model().parameters(), lr=1e-3)
    assert optimizer.update_scale() is None
    assert run_rule(observed) == pytest.approx(scales)
    assert run_rule(observed) == pytest.approx(expected_scales(observed, 0.5, 0.1, 0.9))


observations = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12)


@given(observed=observations, threshold=st.floats(0.0, 0.99), min_scale=st.floats(0.01, 1.0),
       momentum=st.floats(0.0, 0.99))
def test_uncertainty_scale_is_the_rule_bounded_below_and_never_above_one(observed, threshold, min_scale, momentum):
    scales = run_rule(observed, uncertainty_threshold=threshold, min_scale=min_scale, uncertainty_momentum=momentum)
    expected = expected_scales(observed, threshold, min_scale, momentum)
    assert scales == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert all(max(min_scale, threshold) * (1 - 1e-5) <= s <= 1.0 for s in scales)  # bounded: never stalls


@given(start=st.floats(0.0, 1.0), drops=st.lists(st.floats(0.0, 0.2), max_size=10), threshold=st.floats(0.0, 0.99))
def test_a_constant_or_falling_uncertainty_at_any_level_gives_adamw_steps(start, drops, threshold):
    observed = [start]
    for drop in drops:
        observed.append(max(0.0, observed[-1] - drop))
    assert run_rule(observed, uncertainty_threshold=threshold) == [1.0] * len(observed)


@given(first=st.floats(0.0, 1.0), u=st.floats(0.0, 1.0), threshold=st.floats(0.0, 0.99),
       min_scale=st.floats(0.01, 1.0), weight_decay=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 2**32 - 1))
def test_an_uncertain_step_is_exactly_s_times_the_adamw_step(first, u, threshold, min_scale, weight_decay, seed):
    torch.manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(shape, dtype=torch.float64)) for shape in ((3, 4), (4,))]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, twin in zip(params, twins):
        p.grad = torch.randn_like(p)
        twin.grad = p.grad.clone()
    start = [p.detach().clone() for p in params]
    optimizer = UncertaintyOptimizer(params, lr=1e-2, uncertainty_threshold=threshold, min_scale=min_scale,
                                     weight_decay=weight_decay)
    plain = torch.optim.AdamW(twins, lr=1e-2, weight_decay=weight_decay)
    optimizer.observe_uncertainty(torch.tensor(first))  # starts the running mean
    optimizer.observe_uncertainty(torch.tensor(u))  # the step's observation
    scale = float(optimizer.update_scale())
    first, u = (float(torch.tensor(x, dtype=torch.float32)) for x in (first, u))  # the optimizer keeps float32
    reference = max(first, float(torch.tensor(threshold, dtype=torch.float32)))
    assert scale == pytest.approx(1.0 if u <= reference else max(min_scale, reference / u), rel=1e-5)
    optimizer.step()
    plain.step()
    for p, twin, old in zip(params, twins, start):
        update, plain_update = p.detach() - old, twin.detach() - old
        torch.testing.assert_close(update, scale * plain_update, rtol=1e-6, atol=1e-12)
        assert (update.abs() <= plain_update.abs() * (1 + 1e-6) + 1e-12).all()


def polysemy_accuracy(make_optimizer, signal=None, epochs: int = 4, lr: float = 1e-2) -> float:
    """Test accuracy of a small QuantumClassifier trained on the polysemy task; ``signal``
    gives the uncertainty the optimizer observes at each step (as the trainer reports it)."""
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=400, num_val=1, num_test=200)
    train, _, test = corpus.loaders(batch_size=32, seed=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=32)
    optimizer = make_optimizer(model.parameters(), lr=lr)
    schedule = plugins.create("schedules", "linear")
    total = epochs * len(train)
    for step, batch in enumerate(b for _ in range(epochs) for b in train):
        set_collapse_probability(model, schedule(step, total))
        outputs = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
        outputs.loss.backward()
        if signal is not None:
            optimizer.observe_uncertainty(signal(step, total, outputs))
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(b["input_ids"], b["attention_mask"]).logits.argmax(-1) == b["labels"]).sum())
                      for b in test)
    return correct / len(corpus.test)


def test_with_its_defaults_it_trains_as_well_as_adamw_whatever_the_uncertainty_signal():
    adamw = polysemy_accuracy(torch.optim.AdamW)
    assert adamw > 0.5  # chance is 1/8
    signals = {
        "high constant": lambda step, total, outputs: torch.tensor(0.98),
        "falling": lambda step, total, outputs: torch.tensor(1.0 - 0.8 * step / total),
        "the model's own": lambda step, total, outputs: outputs.uncertainty.detach().float().mean(),
    }
    for name, signal in signals.items():
        accuracy = polysemy_accuracy(UncertaintyOptimizer, signal)
        assert accuracy >= adamw - 0.05, f"{name} uncertainty: {accuracy:.3f} vs AdamW's {adamw:.3f}"


def test_without_an_observed_uncertainty_it_is_plain_adamw():
    model, twin = make_model(), make_model()
    optimizer = UncertaintyOptimizer(model.parameters(), lr=1e-3)
    plain = torch.optim.AdamW(twin.parameters(), lr=1e-3)
    for step in range(3):
        train_step(model, optimizer, seed=step)
        train_step(twin, plain, seed=step)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_observing_uncertainty_and_stepping_never_read_it_on_the_host():
    optimizer = UncertaintyOptimizer(make_model().parameters(), lr=1e-3)
    with host_reads_refused():
        for uncertainty in (torch.rand(()), torch.rand(())):
            optimizer.observe_uncertainty(uncertainty)
            scale = optimizer.update_scale()
            # no gradients: AdamW itself (whose CPU step counter is read on the host) does
            # nothing, while the scaling and the running mean's update run as always
            optimizer.step()
    assert isinstance(scale, torch.Tensor) and scale.dim() == 0
    assert isinstance(optimizer.running_uncertainty, torch.Tensor)


def test_observed_uncertainty_must_be_a_scalar():
    optimizer = UncertaintyOptimizer(make_model().parameters())
    with pytest.raises(ValueError, match="0-dim"):
        optimizer.observe_uncertainty(torch.rand(3))
    optimizer.observe_uncertainty(0.3)  # a Python number is accepted too
    optimizer.observe_uncertainty(0.9)
    assert optimizer.update_scale() == pytest.approx(0.5 / 0.9)


# --- torch compatibility ---------------------------------------------------------------


@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS)
def test_state_dict_round_trip_gives_identical_subsequent_steps(cls, options):
    model = make_model()
    optimizer = cls(model.parameters(), **options)
    for step in range(2):
        if isinstance(optimizer, UncertaintyOptimizer):
            optimizer.observe_uncertainty(torch.tensor(0.3 + 0.6 * step))  # the running mean matters
        train_step(model, optimizer, seed=step)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    resumed_model = make_model(seed=1)
    resumed_model.load_state_dict(checkpoint["model"])
    resumed = cls(resumed_model.parameters(), **options)
    resumed.load_state_dict(checkpoint["optimizer"])
    for saved, loaded in zip(optimizer.param_groups, resumed.param_groups):
        assert {k: v for k, v in saved.items() if k != "params"} == {k: v for k, v in loaded.items() if k != "params"}

    train_step(model, optimizer, seed=5)
    train_step(resumed_model, resumed, seed=5)
    for p, q in zip(model.parameters(), resumed_model.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS)
@pytest.mark.parametrize("scheduler", [
    lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (step + 1)),
    lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4),
])
def test_lr_schedulers_scale_every_group_from_its_own_rate(cls, options, scheduler):
    model = make_model()
    optimizer = cls(model.parameters(), **options)
    base = [group["lr"] for group in optimizer.param_groups]
    schedule = scheduler(optimizer)
    for step in range(3):
        train_step(model, optimizer, seed=step)
        schedule.step()
    factors = {group["lr"] / lr for group, lr in zip(optimizer.param_groups, base)}
    assert len({round(f, 12) for f in factors}) == 1 and factors != {1.0}


@pytest.mark.parametrize(("cls", "options"), OPTIMIZERS)
def test_grad_scaler_steps_exactly_like_an_unscaled_step(cls, options):
    model, twin = make_model(), make_model()
    optimizer, plain = cls(model.parameters(), **options), cls(twin.parameters(), **options)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    for step in range(2):
        optimizer.zero_grad()
        scaler.scale(loss_of(model, seed=step)).backward()
        scaler.step(optimizer)
        scaler.update()
        train_step(twin, plain, seed=step)
    for p, q in zip(model.parameters(), twin.parameters()):
        # Not bit for bit: the coupling Q = matrix_exp(A - A^T) has a backward that exponentiates
        # a block matrix holding the incoming gradient, squared as often as that block's norm
        # asks, so a scaled loss's gradient there is proportional only to ~1e-7 relative; the
        # second step's forward carries that to every parameter, and Adam turns it into up to
        # ~1.5e-5 on elements whose gradient is near 0 (steps are ~1e-3).
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-4)


# --- the plugin registry and option validation ------------------------------------------


def test_registered_under_the_optimizers_kind():
    assert {"quantum", "entanglement", "uncertainty", "adamw", "adam", "sgd"} <= set(plugins.available("optimizers"))
    model = make_model()
    optimizer = plugins.create("optimizers", "quantum", model.parameters(), lr=1e-3, quantum_learning_rate=1e-2)
    assert isinstance(optimizer, QuantumOptimizer)
    assert {g["role"]: g["lr"] for g in optimizer.param_groups} == {"classical": 1e-3, "quantum": 1e-2}
    spec = {"name": "uncertainty", "lr": 1e-3, "uncertainty_threshold": 0.2}
    assert plugins.create("optimizers", spec, model.parameters()).uncertainty_threshold == 0.2
    assert isinstance(plugins.create("optimizers", "sgd", model.parameters(), lr=0.1), torch.optim.SGD)


@pytest.mark.parametrize(("cls", "options", "option"), [
    (QuantumOptimizer, {"lr": 0.0}, "lr"),
    (QuantumOptimizer, {"lr": "fast"}, "lr"),
    (QuantumOptimizer, {"quantum_learning_rate": -1e-3}, "quantum_learning_rate"),
    (QuantumOptimizer, {"quantum_lr": 1e-3}, "quantum_lr"),
    (EntanglementOptimizer, {"entanglement_lr": 0}, "entanglement_lr"),
    (EntanglementOptimizer, {"lr": -1.0}, "lr"),
    (UncertaintyOptimizer, {"uncertainty_threshold": 1.0}, "uncertainty_threshold"),
    (UncertaintyOptimizer, {"uncertainty_threshold": -0.1}, "uncertainty_threshold"),
    (UncertaintyOptimizer, {"min_scale": 0.0}, "min_scale"),
    (UncertaintyOptimizer, {"min_scale": 1.5}, "min_scale"),
    (UncertaintyOptimizer, {"uncertainty_momentum": 1.0}, "uncertainty_momentum"),
    (UncertaintyOptimizer, {"uncertainty_momentum": -0.5}, "uncertainty_momentum"),
    (UncertaintyOptimizer, {"lr": 0.0}, "lr"),
])
def test_bad_options_raise_errors_naming_the_option(cls, options, option):
    with pytest.raises((TypeError, ValueError), match=option):
        cls(make_model().parameters(), **options)


def test_bad_options_through_the_registry_name_the_option():
    with pytest.raises(ComponentOptionError, match="entanglement_lr"):
        plugins.create("optimizers", "entanglement", make_model().parameters(), entanglement_lr=-1)


class InPlaceDecay(torch.optim.Optimizer):
    """Classic coupled weight decay, written into ``p.grad`` in place: a correct optimizer."""

    def __init__(self, params, lr: float = 0.1, weight_decay: float = 0.01) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.grad.add_(param, alpha=group["weight_decay"])
                    param.add_(param.grad, alpha=-group["lr"])


class ForgetsItsLr(InPlaceDecay):
    """Steps with a fixed rate whatever the group's ``lr`` says (an LR scheduler would be ignored)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-0.1)


def test_check_optimizer_accepts_an_optimizer_that_edits_gradients_in_place_and_refuses_one_ignoring_lr():
    from qembed.testing import check_optimizer

    check_optimizer(InPlaceDecay, max_examples=15)
    with pytest.raises(AssertionError, match="lr=0"):
        check_optimizer(ForgetsItsLr, max_examples=15)
