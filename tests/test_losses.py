"""Property tests of the built-in losses, their option checks, and ``check_loss``."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn import CrossEntropyLoss

import qembed_plugins.losses
from qembed import plugins
from qembed.models import QuantumClassifier, QuantumMaskedLM
from qembed.nn import EntanglementLayer, QuantumOutput, set_collapse_probability
from qembed.nn.measures import masked_mean
from qembed.plugins import ComponentOptionError
from qembed.testing import check_loss
from qembed.testing.losses import loss_inputs
from qembed.training.loss_terms import LossTerms
from qembed.training.losses import EntanglementLoss, QuantumLoss, UncertaintyLoss
from tests.seed import snippets

QUANTUM_SPECS = [
    {"name": "quantum"},
    {"name": "quantum", "uncertainty_weight": 1.0, "entanglement_weight": 1.0, "superposition_weight": 1.0},
    {"name": "uncertainty", "uncertainty_type": "entropy"},
    {"name": "uncertainty", "uncertainty_type": "variance", "uncertainty_weight": 1.0},
    {"name": "uncertainty", "uncertainty_type": "mutual_information", "mc_samples": 2,
     "uncertainty_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "bell_state"},
    {"name": "entanglement", "entanglement_type": "product", "entanglement_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "target", "target": 0.3},
]
BUILT_IN_SPECS = [{"name": "cross_entropy"}, *QUANTUM_SPECS]
ZERO_WEIGHT_LOSSES = [
    lambda: QuantumLoss(uncertainty_weight=0, entanglement_weight=0.0, superposition_weight=0),
    *(lambda t=t: UncertaintyLoss(uncertainty_weight=0, uncertainty_type=t)
      for t in ("entropy", "variance", "mutual_information")),
    lambda: EntanglementLoss(entanglement_weight=0),
    lambda: EntanglementLoss(entanglement_weight=0, entanglement_type="product"),
    lambda: EntanglementLoss(entanglement_weight=0, entanglement_type="target", target=0.5),
]


def spec_id(spec: dict) -> str:
    return "-".join(str(v) for v in spec.values())


def cross_entropy(outputs, labels: torch.Tensor) -> torch.Tensor:
    logits = outputs.logits.float()
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                       ignore_index=-100)


def with_pairs(entanglement: torch.Tensor, mask: torch.Tensor | None = None) -> QuantumOutput:
    logits = torch.zeros(entanglement.shape[0], 2)
    return QuantumOutput(logits=logits, pair_entanglement=entanglement, pair_mask=mask)


# --- the contract ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", BUILT_IN_SPECS, ids=spec_id)
def test_check_loss_passes_for_every_built_in(spec):
    """Finite scalar, finite gradients, batch-order invariance, total = task + quantum >= task."""
    options = {k: v for k, v in spec.items() if k != "name"}
    check_loss(plugins.available("losses")[spec["name"]].factory, max_examples=40, **options)


@given(inputs=loss_inputs(num_samples=2), spec=st.sampled_from(QUANTUM_SPECS))
def test_quantum_losses_are_finite_at_least_the_task_loss_with_terms_in_unit_interval(inputs, spec):
    outputs, labels = inputs
    loss = plugins.create("losses", spec)
    total, task, quantum = loss.loss_terms(outputs, labels)
    assert torch.isfinite(total)
    assert torch.isclose(task, cross_entropy(outputs, labels))
    assert total >= task and quantum >= 0
    assert torch.equal(loss(outputs, labels), total)
    for name, term in loss.quantum_terms(outputs, labels).items():
        assert 0.0 <= term <= 1.0, (name, term)


@given(inputs=loss_inputs(num_samples=2), make=st.sampled_from(ZERO_WEIGHT_LOSSES))
def test_a_loss_with_zero_weights_equals_its_base_loss(inputs, make):
    outputs, labels = inputs
    terms = make().loss_terms(outputs, labels)
    assert torch.equal(terms.total, terms.task) and terms.quantum == 0
    assert torch.isclose(terms.total, cross_entropy(outputs, labels))


@given(inputs=loss_inputs(token_level=True, num_samples=2), spec=st.sampled_from(QUANTUM_SPECS),
       seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 100.0, 1e4]))
def test_ignored_positions_never_change_the_value(inputs, spec, seed, scale):
    outputs, labels = inputs
    loss = plugins.create("losses", spec)
    generator = torch.Generator().manual_seed(seed)
    ignored = (labels == -100).unsqueeze(-1)

    def scrambled(logits: torch.Tensor) -> torch.Tensor:
        return torch.where(ignored, torch.randn(logits.shape, generator=generator) * scale, logits)

    changed = dataclasses.replace(outputs, logits=scrambled(outputs.logits))
    if outputs.sample_logits is not None:
        changed.sample_logits = torch.stack([scrambled(sample) for sample in outputs.sample_logits])
    assert torch.isclose(loss(outputs, labels), loss(changed, labels), rtol=1e-6, atol=0)


@given(inputs=loss_inputs(), spec=st.sampled_from(QUANTUM_SPECS[:5]))
def test_terms_are_computed_in_float32_whatever_the_logits_dtype(inputs, spec):
    outputs, labels = inputs
    loss = plugins.create("losses", spec)
    low = dataclasses.replace(outputs, logits=outputs.logits.bfloat16())
    value = loss(low, labels)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert torch.isclose(value, loss(dataclasses.replace(low, logits=low.logits.float()), labels))


def test_outputs_may_be_a_mapping_or_bare_logits():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 2, 1, 0])
    uncertainty = torch.rand(4)
    loss = QuantumLoss(uncertainty_weight=0.5)
    expected = nn.functional.cross_entropy(logits, labels) + 0.5 * uncertainty.mean()
    assert torch.isclose(loss({"logits": logits, "uncertainty": uncertainty}, labels), expected)
    assert torch.isclose(loss(logits, labels), nn.functional.cross_entropy(logits, labels))


# --- the terms -------------------------------------------------------------------------


@given(values=st.lists(st.floats(0, 1), min_size=6, max_size=6),
       mask=st.lists(st.booleans(), min_size=6, max_size=6), target=st.floats(0, 1))
def test_entanglement_terms_average_over_real_pairs(values, mask, target):
    pairs, real = torch.tensor(values).reshape(2, 1, 3), torch.tensor(mask).reshape(2, 1, 3)
    outputs, labels = with_pairs(pairs, real), torch.zeros(2, dtype=torch.long)
    kept = [v for v, m in zip(values, mask) if m]
    expected = {
        "bell_state": [1 - v for v in kept],
        "product": kept,
        "target": [(v - target) ** 2 for v in kept],
    }
    for kind, terms in expected.items():
        loss = EntanglementLoss(entanglement_type=kind, target=target if kind == "target" else None)
        mean = sum(terms) / len(terms) if terms else 0.0
        assert loss.quantum_terms(outputs, labels)["entanglement"].item() == pytest.approx(mean, abs=1e-6)
    quantum_term = QuantumLoss().quantum_terms(outputs, labels)["entanglement"].item()
    assert quantum_term == pytest.approx(sum(kept) / len(kept) if kept else 0.0, abs=1e-6)


@given(level=st.floats(0, 1), target=st.floats(0, 1), per_example=st.booleans())
def test_each_entanglement_type_is_lowest_at_its_own_state(level, target, per_example):
    def term(kind: str, value: float) -> float:
        loss = EntanglementLoss(entanglement_type=kind, target=target if kind == "target" else None)
        if per_example:  # no pair detail: the per-example entanglement is used
            outputs = QuantumOutput(logits=torch.zeros(3, 2), entanglement=torch.full((3,), value))
        else:
            outputs = with_pairs(torch.full((3, 2, 2), value))
        return loss.quantum_terms(outputs, torch.zeros(3, dtype=torch.long))["entanglement"].item()

    assert term("bell_state", 1.0) == 0.0 <= term("bell_state", level)  # maximally entangled pairs
    assert term("product", 0.0) == 0.0 <= term("product", level)  # product states
    assert term("target", target) == pytest.approx(0.0, abs=1e-12)
    assert term("target", target) <= term("target", level)


@given(inputs=loss_inputs(num_samples=3), copies=st.integers(2, 4))
def test_mutual_information_is_zero_when_all_samples_agree(inputs, copies):
    outputs, labels = inputs
    loss = UncertaintyLoss(uncertainty_type="mutual_information", uncertainty_weight=1.0)
    agreeing = dataclasses.replace(outputs, sample_logits=outputs.logits.expand(copies, *outputs.logits.shape))
    assert loss.quantum_terms(agreeing, labels)["uncertainty"].item() == pytest.approx(0.0, abs=1e-5)


@given(num_classes=st.integers(2, 6), data=st.data())
def test_mutual_information_is_positive_when_samples_disagree(num_classes, data):
    first = data.draw(st.integers(0, num_classes - 1))
    second = data.draw(st.integers(0, num_classes - 1).filter(lambda c: c != first))
    samples = torch.zeros(2, 1, num_classes)
    samples[0, 0, first] = samples[1, 0, second] = 10.0
    outputs = QuantumOutput(logits=samples.mean(0), sample_logits=samples)
    loss = UncertaintyLoss(uncertainty_type="mutual_information")
    assert loss.quantum_terms(outputs, torch.tensor([first]))["uncertainty"] > 0.1


def test_only_mutual_information_asks_for_collapse_samples():
    assert UncertaintyLoss(uncertainty_type="mutual_information").mc_samples == 4
    assert UncertaintyLoss(uncertainty_type="mutual_information", mc_samples=8).mc_samples == 8
    with pytest.raises(ValueError, match="mc_samples applies only to uncertainty_type='mutual_information'"):
        UncertaintyLoss(uncertainty_type="entropy", mc_samples=8)
    assert UncertaintyLoss(uncertainty_type="variance").mc_samples == 0
    assert QuantumLoss().mc_samples == 0 and EntanglementLoss().mc_samples == 0
    outputs, labels = QuantumOutput(logits=torch.randn(3, 4)), torch.tensor([0, 1, 2])
    assert UncertaintyLoss(uncertainty_type="mutual_information").loss_terms(outputs, labels).quantum == 0


@pytest.mark.parametrize("kind", ["entropy", "variance"])
def test_prediction_uncertainty_is_zero_when_certain_and_one_when_uniform(kind):
    loss = UncertaintyLoss(uncertainty_type=kind)
    certain = QuantumOutput(logits=torch.tensor([[1e4, 0.0, 0.0], [0.0, 0.0, 1e4]]))
    uniform = QuantumOutput(logits=torch.zeros(2, 3))
    labels = torch.tensor([0, 2])
    assert loss.quantum_terms(certain, labels)["uncertainty"].item() == pytest.approx(0.0, abs=1e-6)
    assert loss.quantum_terms(uniform, labels)["uncertainty"].item() == pytest.approx(1.0, abs=1e-6)


def test_missing_fields_drop_their_terms():
    outputs, labels = QuantumOutput(logits=torch.randn(3, 4)), torch.tensor([0, 1, 2])
    for loss in (QuantumLoss(superposition_weight=1.0), EntanglementLoss(),
                 EntanglementLoss(entanglement_type="product")):
        assert loss.quantum_terms(outputs, labels) == {}
        assert torch.equal(loss(outputs, labels), nn.functional.cross_entropy(outputs.logits, labels))


# --- on real models -----------------------------------------------------------------------


def seed_losses() -> list[nn.Module]:
    """The snippets of the user-facing specification, as written."""
    return [
        QuantumLoss(uncertainty_weight=0.1),
        QuantumLoss(base_loss=CrossEntropyLoss(), uncertainty_weight=0.1, entanglement_weight=0.05),
        UncertaintyLoss(base_loss=CrossEntropyLoss(), uncertainty_weight=0.2, uncertainty_type='entropy'),
        EntanglementLoss(base_loss=CrossEntropyLoss(), entanglement_weight=0.1, entanglement_type='bell_state'),
        plugins.create("losses", {"name": "quantum", "base_loss": "cross_entropy", "uncertainty_weight": 0.2}),
        UncertaintyLoss(uncertainty_type="mutual_information", mc_samples=2),
    ]


def assert_trains(model: nn.Module, input_ids: torch.Tensor, labels: torch.Tensor) -> None:
    set_collapse_probability(model, 0.5)
    for loss in seed_losses():
        outputs = model(input_ids)
        if loss.mc_samples:
            outputs.sample_logits = torch.stack([model(input_ids).logits for _ in range(loss.mc_samples)])
        terms = loss.loss_terms(outputs, labels)
        assert isinstance(terms, LossTerms) and torch.isfinite(terms.total) and terms.total >= terms.task
        assert torch.equal(terms.task, cross_entropy(outputs, labels))
        model.zero_grad()
        loss(outputs, labels).backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)


def test_seed_losses_train_a_quantum_classifier():
    torch.manual_seed(0)
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2)
    assert_trains(model, torch.randint(1, 50, (4, 7)), torch.tensor([0, 2, 1, 2]))


def test_seed_losses_train_a_masked_lm_on_token_level_labels():
    torch.manual_seed(0)
    model = QuantumMaskedLM(50, embedding_dim=16, num_heads=2)
    input_ids = torch.randint(1, 50, (3, 8))
    labels = torch.where(torch.rand(3, 8) < 0.3, input_ids, torch.full_like(input_ids, -100))
    labels[0, 0] = input_ids[0, 0]
    assert_trains(model, input_ids, labels)


# --- memory-efficient entanglement: the same objective as dense ----------------------------

ENTANGLEMENT_LOSS_SPECS = [
    {"name": "quantum", "uncertainty_weight": 0.0, "entanglement_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "bell_state", "entanglement_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "product", "entanglement_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "target", "target": 0.3, "entanglement_weight": 1.0},
    {"name": "entanglement", "entanglement_type": "target", "target": 1.0, "entanglement_weight": 1.0},
]


def layer_loss(layer: EntanglementLayer, spec: dict, hidden: torch.Tensor, amplitudes: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Loss, per-example entanglement, and the gradients of the input and of every
    parameter, for the outputs a model with ``layer`` gives (the encoder's fields)."""
    layer.zero_grad()
    hidden = hidden.detach().clone().requires_grad_()
    out = layer(hidden, amplitudes, mask)
    logits = out.hidden_states.mean(1)[:, :3]
    per_example = masked_mean(out.entanglement, out.pair_mask, dim=(-2, -1))
    outputs = QuantumOutput(logits=logits, entanglement=per_example, pair_entanglement=out.entanglement,
                            pair_mask=out.pair_mask, attention_mask=mask)
    loss = plugins.create("losses", spec)(outputs, torch.zeros(len(mask), dtype=torch.long))
    loss.backward()
    return loss.detach(), per_example.detach(), hidden.grad, {n: p.grad.clone() for n, p in layer.named_parameters()}


@given(lengths=st.lists(st.integers(0, 7), min_size=1, max_size=4), chunk_size=st.integers(1, 8),
       spec=st.sampled_from(ENTANGLEMENT_LOSS_SPECS), seed=st.integers(0, 2**16))
def test_memory_efficient_entanglement_gives_dense_losses_and_gradients(lengths, chunk_size, spec, seed):
    """Examples of different lengths (padding, a lone token, none): every built-in
    entanglement term, the per-example entanglement and all gradients are dense mode's."""
    torch.manual_seed(seed)
    dense = EntanglementLayer(8, 3, mode="dense")
    chunked = EntanglementLayer(8, 3, mode="dense", memory_efficient=True, chunk_size=chunk_size)
    chunked.load_state_dict(dense.state_dict())
    hidden = 2 * torch.randn(len(lengths), 7, 8)
    amplitudes = nn.functional.normalize(torch.randn(len(lengths), 7, 3), dim=-1)
    mask = torch.arange(7) < torch.tensor(lengths).unsqueeze(-1)
    loss, per_example, input_grad, grads = layer_loss(dense, spec, hidden, amplitudes, mask)
    same_loss, same_per_example, same_input_grad, same_grads = layer_loss(chunked, spec, hidden, amplitudes, mask)
    torch.testing.assert_close(same_loss, loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(same_per_example, per_example, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(same_input_grad, input_grad, rtol=1e-4, atol=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(same_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("spec", ENTANGLEMENT_LOSS_SPECS, ids=spec_id)
def test_quantum_memory_efficient_keeps_a_models_loss_and_gradients(spec):
    """A padded batch through a whole QuantumClassifier: the memory option changes neither
    the loss nor any parameter's gradient."""
    input_ids = torch.randint(1, 50, (4, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(4, 9, dtype=torch.bool)
    mask[1, 4:] = mask[2, 7:] = mask[3, 1:] = False
    labels = torch.tensor([0, 1, 2, 0])
    results = []
    for memory_efficient in (False, True):
        torch.manual_seed(0)
        model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2, dropout=0.0)
        model.encoder.entanglement.memory_efficient = memory_efficient
        model.encoder.entanglement.chunk_size = 4
        torch.manual_seed(1)  # the same collapse draws
        outputs = model(input_ids, mask)
        loss = plugins.create("losses", spec)(outputs, labels)
        loss.backward()
        results.append((loss.detach(), outputs.entanglement.detach(),
                        {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (loss, per_example, grads), (same_loss, same_per_example, same_grads) = results
    torch.testing.assert_close(same_loss, loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(same_per_example, per_example, rtol=1e-5, atol=1e-6)
    assert same_grads.keys() == grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(same_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


# --- registration and options ------------------------------------------------------------


def test_built_ins_are_registered_and_importable_from_qembed_training():
    table = plugins.available("losses")
    assert {"cross_entropy", "quantum", "uncertainty", "entanglement"} <= set(table)
    assert table["cross_entropy"].factory is CrossEntropyLoss
    assert QuantumLoss is qembed_plugins.losses.QuantumLoss is table["quantum"].factory
    assert table["uncertainty"].factory is UncertaintyLoss and table["entanglement"].factory is EntanglementLoss


def test_base_loss_may_be_a_name_or_spec():
    loss = QuantumLoss(base_loss={"name": "cross_entropy", "label_smoothing": 0.1})
    assert isinstance(loss.base_loss, CrossEntropyLoss) and loss.base_loss.label_smoothing == 0.1
    by_name = plugins.create("losses", "uncertainty", base_loss="cross_entropy")
    assert isinstance(by_name.base_loss, CrossEntropyLoss)


BAD_OPTIONS = [
    (QuantumLoss, {"uncertainty_weight": -0.1}, ValueError, "uncertainty_weight must be a finite number >= 0"),
    (QuantumLoss, {"entanglement_weight": "0.1"}, TypeError, "entanglement_weight must be a number >= 0"),
    (QuantumLoss, {"superposition_weight": float("nan")}, ValueError, "superposition_weight"),
    (QuantumLoss, {"uncertainty_weight": True}, TypeError, "uncertainty_weight"),
    (QuantumLoss, {"base_loss": 42}, TypeError, "base_loss must be None, a loss module"),
    (QuantumLoss, {"base_loss": "crossentropy"}, ValueError, "did you mean 'cross_entropy'"),
    (UncertaintyLoss, {"uncertainty_type": "entropyy"}, ValueError,
     "uncertainty_type must be one of 'entropy', 'variance', 'mutual_information', got 'entropyy'"),
    (UncertaintyLoss, {"uncertainty_type": "mutual_information", "mc_samples": 1}, ValueError,
     "mc_samples must be >= 2"),
    (UncertaintyLoss, {"uncertainty_type": "mutual_information", "mc_samples": 2.5}, TypeError,
     "mc_samples must be an integer"),
    (EntanglementLoss, {"entanglement_type": "bell"}, ValueError,
     "entanglement_type must be one of 'bell_state', 'product', 'target', got 'bell'"),
    (EntanglementLoss, {"entanglement_type": "target"}, TypeError, "needs target"),
    (EntanglementLoss, {"entanglement_type": "target", "target": 1.5}, ValueError, "target must be in [0, 1]"),
    (EntanglementLoss, {"target": 0.5}, ValueError, "target is only used with entanglement_type='target'"),
    (EntanglementLoss, {"entanglement_weight": -1}, ValueError, "entanglement_weight"),
]


@pytest.mark.parametrize(("factory", "options", "error", "message"), BAD_OPTIONS)
def test_bad_options_raise_naming_the_option(factory, options, error, message):
    with pytest.raises(error) as raised:
        factory(**options)
    assert message in str(raised.value)


def test_bad_options_through_the_registry_name_the_loss_and_option():
    with pytest.raises(ComponentOptionError, match="loss 'uncertainty'.*uncertainty_type"):
        plugins.create("losses", {"name": "uncertainty", "uncertainty_type": "entropyy"})
    with pytest.raises(ComponentOptionError, match="did you mean 'uncertainty_weight'"):
        plugins.create("losses", "quantum", uncertainty_wieght=0.1)


def test_bad_inputs_raise_clear_errors():
    outputs = QuantumOutput(logits=torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\) do not match logits"):
        QuantumLoss()(outputs, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="base_loss must return a scalar"):
        QuantumLoss(base_loss=CrossEntropyLoss(reduction="none"))(outputs, torch.zeros(2, 5, dtype=torch.long))


# --- check_loss can fail ------------------------------------------------------------------


class NaiveSoftmaxLoss(nn.Module):
    """Broken: exp overflows for large logits (NaN)."""

    def forward(self, outputs, labels):
        logits, labels = outputs.logits.reshape(-1, outputs.logits.shape[-1]), labels.reshape(-1)
        p = logits.exp() / logits.exp().sum(-1, keepdim=True)
        real = labels != -100
        return -(p.log().gather(1, labels.clamp_min(0).unsqueeze(1)).squeeze(1) * real).sum() / real.sum()


class OrderDependentLoss(nn.Module):
    """Broken: weights each example by its position in the batch."""

    def forward(self, outputs, labels):
        per_example = nn.functional.cross_entropy(outputs.logits.reshape(-1, outputs.logits.shape[-1]),
                                                  labels.reshape(-1), reduction="none")
        return (per_example * torch.arange(per_example.shape[0])).mean()


class MisreportingLoss(QuantumLoss):
    """Broken: its reported quantum part is negative (total < task)."""

    def loss_terms(self, outputs, labels):
        terms = super().loss_terms(outputs, labels)
        return LossTerms(terms.task - 1.0, terms.task, torch.tensor(-1.0))


def seed_quantum_aware_loss() -> type[nn.Module]:
    """The specification's custom loss class (class-level only), from its snippet as
    written; the snippet's lines that build a trainer with it are left out."""
    definition = snippets.CUSTOM_LOSS.split("# Use custom loss")[0]
    namespace = {"nn": nn}
    exec(compile(definition, "<seed snippet: custom loss>", "exec"), namespace)
    return namespace["QuantumAwareLoss"]


@pytest.mark.parametrize("broken", [NaiveSoftmaxLoss, OrderDependentLoss, MisreportingLoss])
def test_check_loss_fails_for_a_broken_loss(broken):
    with pytest.raises(AssertionError, match=broken.__name__):
        check_loss(broken)


def test_check_loss_passes_the_specifications_custom_loss_on_class_level_outputs():
    check_loss(seed_quantum_aware_loss(), max_examples=30, token_level=False, base_loss=CrossEntropyLoss())
