"""``quantum_training_config``: a fuzzed config builds or is refused with a ``ConfigError``; the
clipping keys each act or raise a
``ConfigError`` naming it and what it needs, and ``quantum_gradient_clipping`` clips the
quantum gradients only."""

from __future__ import annotations

import math

import attrs

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.nn import role_of
from qembed.training import ConfigError, QuantumTrainer, QuantumTrainingConfig

CLIPPING_KEYS = ("quantum_gradient_clipping", "separate_clipping", "max_quantum_grad_norm", "max_grad_norm", "clipping")
OTHER_VALUES = {  # a second non-default value of each key, to see whether it acts
    "quantum_gradient_clipping": None, "separate_clipping": None,  # booleans: True is the only non-default value
    "max_quantum_grad_norm": 0.25, "max_grad_norm": 0.75,
    "clipping": {"name": "value", "clip_value": 0.5},
}


@pytest.mark.parametrize(("config", "needs"), [
    ({"max_quantum_grad_norm": 0.5}, "'max_quantum_grad_norm'] (the quantum gradients' maximum norm) needs "
                                     "'quantum_gradient_clipping': True"),
    ({"max_grad_norm": 5.0}, "'max_grad_norm'] (the classical gradients' maximum norm under separate clipping) "
                             "needs 'quantum_gradient_clipping': True and 'separate_clipping': True"),
    ({"quantum_gradient_clipping": True, "max_grad_norm": 5.0}, "'max_grad_norm'] (the classical gradients' "
                                                                "maximum norm under separate clipping) needs "
                                                                "'separate_clipping': True"),
    ({"clipping": "adaptive", "max_quantum_grad_norm": 0.5}, "with 'clipping', give the norm in that spec's own"),
    ({"clipping": "adaptive", "max_grad_norm": 1.0}, "with 'clipping', give the norm in that spec's own options"),
    ({"separate_clipping": True, "max_grad_norm": 5.0}, "'separate_clipping'] needs 'quantum_gradient_clipping'"),
])
def test_a_norm_without_the_key_that_uses_it_is_an_error_naming_both(config, needs):
    with pytest.raises(ConfigError) as caught:
        QuantumTrainingConfig.from_value(config)
    assert needs in str(caught.value)


@pytest.mark.parametrize(("config", "spec"), [
    ({}, "none"),
    ({"quantum_gradient_clipping": True}, {"name": "global_norm", "max_norm": 1.0, "parameters": "quantum"}),
    ({"quantum_gradient_clipping": True, "max_quantum_grad_norm": 0.5},
     {"name": "global_norm", "max_norm": 0.5, "parameters": "quantum"}),
    ({"quantum_gradient_clipping": True, "separate_clipping": True},
     {"name": "separate", "quantum_max_norm": 1.0, "classical_max_norm": 1.0}),
    ({"quantum_gradient_clipping": True, "max_quantum_grad_norm": 1.0, "separate_clipping": True,
      "max_grad_norm": 5.0}, {"name": "separate", "quantum_max_norm": 1.0, "classical_max_norm": 5.0}),
    ({"clipping": {"name": "adaptive", "clipping": 0.01}}, {"name": "adaptive", "clipping": 0.01}),
])
def test_clipping_spec_of_each_valid_combination(config, spec):
    assert QuantumTrainingConfig.from_value(config).clipping_spec() == spec


def without_none(config: dict) -> dict:
    return {key: value for key, value in config.items() if value is not None}


clipping_configs = st.fixed_dictionaries({
    "quantum_gradient_clipping": st.sampled_from([None, False, True]),
    "separate_clipping": st.sampled_from([None, False, True]),
    "max_quantum_grad_norm": st.sampled_from([None, 0.5, 1.0, 3.0]),
    "max_grad_norm": st.sampled_from([None, 0.5, 1.0, 3.0]),
    "clipping": st.sampled_from([None, "adaptive", {"name": "global_norm", "max_norm": 2.0}]),
}).map(without_none)


@given(config=clipping_configs)
def test_every_clipping_key_acts_or_raises_an_error_naming_it(config):
    """Set to something other than its default, each key changes the clipping
    strategy; a combination where one could not is a ConfigError naming that key."""
    defaults = QuantumTrainingConfig()
    try:
        spec = QuantumTrainingConfig.from_value(config).clipping_spec()
    except ConfigError as error:
        assert any(f"'{key}'" in str(error) for key in config)
        return
    for key, value in config.items():
        if value == getattr(defaults, key):
            continue
        alternatives = [getattr(defaults, key)] + ([OTHER_VALUES[key]] if OTHER_VALUES[key] is not None else [])
        changed = []
        for alternative in alternatives:
            try:
                other = QuantumTrainingConfig.from_value({**config, key: alternative}).clipping_spec()
            except ConfigError:
                other = "an error"  # leaving the key out breaks the config: the key is needed, so it acts
            changed.append(other != spec)
        assert any(changed), f"{key}={value!r} in {config} changes nothing"


def polysemy_gradients(config: dict) -> tuple[QuantumTrainer, dict[torch.nn.Parameter, torch.Tensor]]:
    """A trainer with ``config`` and its model's gradients of one real batch before clipping."""
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=32, num_val=1, num_test=1)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1)
    trainer = QuantumTrainer(model, {"name": "quantum", "lr": 1e-3}, "quantum", config, progress_bar=False)
    batch = next(iter(corpus.loaders(batch_size=32)[0]))
    model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"]).loss.backward()
    return trainer, {p: p.grad.clone() for p in model.parameters() if p.grad is not None}


def total_norm(grads) -> float:
    return math.sqrt(sum(float(g.double().square().sum()) for g in grads))


@pytest.mark.parametrize("max_norm", [1e-3, 1e-1])
def test_quantum_gradient_clipping_alone_clips_the_quantum_gradients_only(max_norm):
    trainer, before = polysemy_gradients({"quantum_gradient_clipping": True, "max_quantum_grad_norm": max_norm})
    quantum = [p for p in before if role_of(p) is not None]
    classical = [p for p in before if role_of(p) is None]
    assert quantum and classical
    assert total_norm(before[p] for p in quantum) > max_norm  # there is something to clip
    norms = trainer.clipping(trainer.optimizer.param_groups)
    assert float(norms["grad_norm/quantum"]) == pytest.approx(total_norm(before[p] for p in quantum), rel=1e-5)
    assert total_norm(p.grad for p in quantum) == pytest.approx(max_norm, rel=1e-4)
    for p in classical:
        assert torch.equal(p.grad, before[p])  # classical gradients untouched, however large
    factor = max_norm / total_norm(before[p] for p in quantum)
    for p in quantum:
        torch.testing.assert_close(p.grad, before[p] * factor, rtol=1e-5, atol=1e-12)


def test_separate_clipping_bounds_the_classical_part_by_max_grad_norm():
    trainer, before = polysemy_gradients({"quantum_gradient_clipping": True, "separate_clipping": True,
                                          "max_quantum_grad_norm": 1e-2, "max_grad_norm": 1e-3})
    trainer.clipping(trainer.optimizer.param_groups)
    quantum = [p for p in before if role_of(p) is not None]
    classical = [p for p in before if role_of(p) is None]
    assert total_norm(p.grad for p in quantum) == pytest.approx(1e-2, rel=1e-4)
    assert total_norm(p.grad for p in classical) == pytest.approx(1e-3, rel=1e-4)


_FUZZ_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["linear", "cyclic", "reservoir", "context_aware", "global_norm", "sparse", "bf16", "x"]),
    st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(["name", "value", "max_norm", "capacity"]),
                    st.one_of(st.integers(-1, 3), st.sampled_from(["constant", "global_norm", "reservoir", "?"])),
                    max_size=2),
)


_FUZZ_BATCH = [{"input_ids": torch.arange(10).view(2, 5), "attention_mask": torch.ones(2, 5, dtype=torch.long),
                "labels": torch.tensor([0, 1])}]


@given(st.dictionaries(st.sampled_from([f.name for f in attrs.fields(QuantumTrainingConfig)]), _FUZZ_VALUES,
                       max_size=3))
def test_a_fuzzed_config_builds_a_trainer_or_is_refused_with_a_config_error(config):
    model = QuantumClassifier(20, 2, embedding_dim=8, num_heads=2, num_layers=0, max_length=8)
    try:  # refused as it is built, or it trains and validates: nothing escapes later
        trainer = QuantumTrainer(model, "adamw", "cross_entropy", config, progress_bar=False)
    except ConfigError as err:
        assert len(str(err)) < 600 and "\n" not in str(err)
        return
    trainer.train_epoch(_FUZZ_BATCH)
    trainer.validate(_FUZZ_BATCH)
