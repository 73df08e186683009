"""Uncertainty from collapse samples, error-detection AUROC, and what a trained model's
senses and uncertainty do on held-out data."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qembed.data import PolysemyCorpus
from qembed.metrics import collect_sense_choices, error_detection_auroc, sampled_uncertainty, sense_accuracy
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

scores = st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]), min_size=2, max_size=30)


@given(scores, st.data())
def test_auroc_is_the_probability_that_an_error_is_more_uncertain_than_a_right_answer(values, data):
    errors = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    wrong = [v for v, e in zip(values, errors) if e]
    right = [v for v, e in zip(values, errors) if not e]
    result = error_detection_auroc(torch.tensor(values), torch.tensor(errors))
    if not wrong or not right:
        assert math.isnan(result)
        return
    pairs = [(w > r) + 0.5 * (w == r) for w in wrong for r in right]
    assert result == pytest.approx(sum(pairs) / len(pairs))


@given(scores, st.data())
def test_auroc_ignores_monotone_rescaling(values, data):
    errors = torch.tensor(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    values = torch.tensor(values)
    first, second = error_detection_auroc(values, errors), error_detection_auroc(values.exp() * 3 - 1, errors)
    assert (math.isnan(first) and math.isnan(second)) or first == pytest.approx(second)


@given(arrays("float32", st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(2, 5)),
              elements=st.floats(-20, 20, width=32)))
def test_sampled_uncertainty_splits_into_expected_entropy_and_mutual_information(logits):
    estimate = sampled_uncertainty(torch.from_numpy(logits))
    assert torch.allclose(estimate.uncertainty, estimate.expected_entropy + estimate.mutual_information, atol=1e-5)
    for value in estimate[:3]:
        assert ((value >= 0) & (value <= 1)).all()
    if logits.shape[0] == 1:  # one sample: nothing epistemic
        assert torch.allclose(estimate.mutual_information, torch.zeros(logits.shape[1]), atol=1e-5)


def test_samples_that_disagree_have_mutual_information_and_agreeing_ones_none():
    confident = torch.tensor([[10.0, 0.0], [0.0, 10.0]]).unsqueeze(1)  # two samples, opposite answers
    assert sampled_uncertainty(confident).mutual_information.item() > 0.9
    agreeing = torch.tensor([[10.0, 0.0], [10.0, 0.0]]).unsqueeze(1)
    assert sampled_uncertainty(agreeing).mutual_information.item() == pytest.approx(0.0, abs=1e-4)


def tiny_trainer(corpus, **config):
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    return QuantumTrainer(model, "adamw", "cross_entropy", config, progress_bar=False, seed=0)


def test_validation_is_repeatable_and_leaves_the_training_random_stream_alone():
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=32, num_test=8)
    plain = tiny_trainer(corpus)  # seeds the global generator, which draws collapses and dropout
    plain.train(corpus.loaders(batch_size=16, seed=0)[0], num_epochs=2)
    validated = tiny_trainer(corpus)
    train, val, _ = corpus.loaders(batch_size=16, seed=0)
    validated.train(train, val, num_epochs=2)
    for a, b in zip(validated.model.parameters(), plain.model.parameters()):
        assert torch.equal(a, b)
    first, again = validated.validate(val), validated.validate(val)
    assert first.keys() == again.keys()
    assert all(first[k] == again[k] or (math.isnan(first[k]) and math.isnan(again[k])) for k in first)
    assert {"uncertainty", "predictive_entropy", "mutual_information", "sense_entropy", "uncertainty_auroc",
            "predictive_entropy_auroc"} <= set(first)
    assert first["mutual_information"] > 0  # K = 4 senses in superposition disagree


def test_without_collapse_samples_uncertainty_is_the_predictive_entropy():
    corpus = PolysemyCorpus(seed=0, num_train=32, num_val=32, num_test=8)
    _, val, _ = corpus.loaders(batch_size=16)
    metrics = tiny_trainer(corpus, uncertainty_samples=0).validate(val)
    assert metrics["uncertainty"] == pytest.approx(metrics["predictive_entropy"])
    assert metrics["mutual_information"] == 0
    assert metrics["uncertainty_auroc"] == pytest.approx(metrics["predictive_entropy_auroc"])


@pytest.mark.slow
def test_a_trained_model_reads_senses_from_context_and_is_uncertain_where_it_errs():
    corpus = PolysemyCorpus(seed=0, num_train=1000, num_val=100, num_test=400)
    train, _, test = corpus.loaders(batch_size=32, seed=0)
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=32)
    trainer = QuantumTrainer(model, {"name": "adamw", "lr": 3e-3}, "cross_entropy", progress_bar=False, seed=0)
    trainer.train(train, num_epochs=6)
    metrics = trainer.validate(test)
    assert metrics["accuracy"] > 0.6  # chance 1/8
    # uncertainty rises on the inputs the model gets wrong: it detects its errors
    assert metrics["uncertainty_auroc"] > 0.65

    # the same ambiguous word in contexts of different ground-truth senses gets different
    # sense distributions (total variation between the senses' mean distributions)
    model.eval()
    distributions: dict[tuple[int, int], list[torch.Tensor]] = {}
    with torch.no_grad():
        for batch in test:
            probabilities = model(batch["input_ids"], batch["attention_mask"]).sense_probabilities
            labelled = batch["sense_ids"] != -100
            for word, sense, p in zip(batch["input_ids"][labelled], batch["sense_ids"][labelled],
                                      probabilities[labelled]):
                distributions.setdefault((int(word), int(sense)), []).append(p)
    distances = []
    for word in corpus.ambiguous_ids:
        means = [torch.stack(distributions[(word, s)]).mean(0) for s in range(3) if (word, s) in distributions]
        distances += [0.5 * (a - b).abs().sum().item() for i, a in enumerate(means) for b in means[i + 1:]]
    assert sum(distances) / len(distances) > 0.1 and min(distances) > 0.02  # context-free: exactly 0
    senses = sense_accuracy(collect_sense_choices(model, train), collect_sense_choices(model, test))
    assert senses.accuracy > senses.baseline + 0.1
