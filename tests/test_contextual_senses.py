"""Contextual superposition, evaluation modes, collapse samples and the ablation switches."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed.models import ClassicalClassifier, QuantumClassifier, QuantumMaskedLM
from qembed.nn import (
    EntanglementLayer,
    QuantumEmbeddings,
    collapse_sampling,
    evaluation_collapse,
    role_of,
    set_collapse_probability,
)

VOCAB, DIM, SENSES = 30, 16, 4


def layer(**options) -> QuantumEmbeddings:
    torch.manual_seed(0)
    return QuantumEmbeddings(VOCAB, DIM, SENSES, **options).eval()


sentences = st.lists(st.integers(0, VOCAB - 1), min_size=3, max_size=10)


@given(sentences, st.integers(0, VOCAB - 1), st.data())
def test_a_tokens_sense_distribution_depends_on_its_context(sentence, replacement, data):
    embeddings = layer()
    position = data.draw(st.integers(1, len(sentence) - 1))  # a context word, not token 0
    if sentence[position] == replacement:
        replacement = (replacement + 1) % VOCAB
    changed = list(sentence)
    changed[position] = replacement
    with torch.no_grad():
        before, after = (embeddings(torch.tensor([ids])).probabilities[0, 0] for ids in (sentence, changed))
    assert not torch.allclose(before, after, atol=1e-6)
    assert torch.allclose(before.sum(), torch.tensor(1.0))


@given(sentences, st.integers(0, VOCAB - 1), st.data())
def test_context_free_ablation_gives_every_context_the_same_distribution(sentence, replacement, data):
    embeddings = layer(contextual=False)
    position = data.draw(st.integers(1, len(sentence) - 1))
    changed = list(sentence)
    changed[position] = replacement
    with torch.no_grad():
        before, after = (embeddings(torch.tensor([ids])).probabilities[0, 0] for ids in (sentence, changed))
    assert torch.equal(before, after)
    assert torch.allclose(before, embeddings.amplitudes(torch.tensor(sentence[0])) ** 2)


def test_amplitudes_are_unit_norm_and_their_squares_the_contextual_probabilities():
    out = layer()(torch.randint(0, VOCAB, (3, 7)))
    assert torch.allclose(out.amplitudes.norm(dim=-1), torch.ones(3, 7), atol=1e-5)
    assert torch.allclose(out.amplitudes ** 2, out.probabilities, atol=1e-6)


@pytest.mark.parametrize("probability", [0.0, 0.3, 1.0])
def test_expected_evaluation_is_the_mean_of_trainings_collapse(probability):
    embeddings = layer()
    set_collapse_probability(embeddings, probability)
    ids = torch.randint(0, VOCAB, (4, 6))
    with torch.no_grad():
        expected = embeddings(ids).embeddings
        with evaluation_collapse(embeddings, True):
            collapsed = embeddings(ids).embeddings
        with evaluation_collapse(embeddings, False):
            superposed = embeddings(ids).embeddings
    assert torch.allclose(expected, probability * collapsed + (1 - probability) * superposed, atol=1e-5)
    assert embeddings.eval_collapse == "expected"  # restored after the block


def test_eval_collapse_names_its_choices():
    with pytest.raises(ValueError, match="eval_collapse must be one of 'expected', True, False, got 'mean'"):
        QuantumEmbeddings(VOCAB, DIM, SENSES, eval_collapse="mean")


def test_collapse_sampling_measures_every_real_token_by_the_born_rule():
    embeddings = layer()
    ids = torch.randint(0, VOCAB, (64, 5))
    mask = torch.ones(64, 5, dtype=torch.bool)
    mask[:, -1] = False
    with torch.no_grad(), collapse_sampling(embeddings) as sampling:
        torch.manual_seed(1)
        draws = torch.stack([embeddings(ids, mask).weights for _ in range(200)])
        probabilities = embeddings(ids, mask).probabilities
    assert sampling == 1 and not embeddings.sampling
    real = draws[:, mask]
    assert set(real.unique().tolist()) == {0.0, 1.0} and torch.equal(real.sum(-1), torch.ones(real.shape[:-1]))
    # the frequency of each sense over the draws approaches p (200 draws: sd <= 0.035)
    assert (real.mean(0) - probabilities[mask]).abs().max() < 0.2
    assert torch.allclose(real.mean(0).mean(0), probabilities[mask].mean(0), atol=0.02)


@pytest.mark.parametrize("options", [{"collapse": False}, {"num_states": 1}])
def test_layers_with_nothing_to_sample_are_not_sampled(options):
    torch.manual_seed(0)
    model = QuantumClassifier(VOCAB, 3, embedding_dim=DIM, num_heads=2, num_layers=1, dropout=0.0, **options).eval()
    ids = torch.randint(0, VOCAB, (2, 6))
    with torch.no_grad(), collapse_sampling(model) as sampling:
        assert sampling == 0
        assert torch.equal(model(ids).logits, model(ids).logits)


def small(model_class=QuantumClassifier, **options):
    torch.manual_seed(0)
    return model_class(VOCAB, 3, embedding_dim=DIM, num_heads=2, num_layers=1, dropout=0.0, **options)


def test_no_entanglement_removes_the_entanglement_layer_and_nothing_else():
    full, ablated = small(), small(entanglement="none")
    assert not any(isinstance(m, EntanglementLayer) for m in ablated.modules())
    names = {name for name in full.state_dict() if not name.startswith("encoder.entanglement.")}
    assert set(ablated.state_dict()) == names
    out = ablated(torch.randint(0, VOCAB, (2, 5)))
    assert out.entanglement is None and out.pair_entanglement is None and out.sense_probabilities is not None


def test_no_collapse_ignores_the_collapse_probability_in_training_and_evaluation():
    model = small(collapse=False)
    assert set(model.state_dict()) == set(small().state_dict())
    ids = torch.randint(0, VOCAB, (2, 6))
    outputs = []
    for mode in ("train", "eval"):
        getattr(model, mode)()
        for probability in (0.0, 1.0):
            set_collapse_probability(model, probability)
            out = model(ids)
            assert torch.equal(out.sense_weights, out.sense_probabilities)
            outputs.append(out.logits)
    assert all(torch.allclose(outputs[0], logits) for logits in outputs[1:])


def test_one_sense_makes_every_token_certain():
    out = small(num_states=1)(torch.randint(0, VOCAB, (2, 6)))
    assert torch.equal(out.sense_probabilities, torch.ones(2, 6, 1))
    assert torch.equal(out.sense_entropy, torch.zeros(2))


def test_context_free_switch_changes_only_how_probabilities_are_computed():
    contextual, context_free = small(), small(contextual=False)
    context_free.load_state_dict(contextual.state_dict())  # the same parameters
    ids = torch.randint(0, VOCAB, (2, 6))
    first = context_free(ids).sense_probabilities
    assert torch.allclose(first, context_free.encoder.embeddings.amplitudes(ids) ** 2)
    assert not torch.allclose(first, contextual(ids).sense_probabilities)


def test_classical_baseline_has_no_quantum_parameters_and_reports_predictive_uncertainty():
    model = small(ClassicalClassifier)
    assert all(role_of(p) is None for p in model.parameters())
    out = model(torch.randint(0, VOCAB, (4, 6)), labels=torch.tensor([0, 1, 2, 0]))
    assert out.loss is not None and out.sense_probabilities is None
    assert torch.equal(out.uncertainty, out.predictive_entropy) and out.uncertainty.shape == (4,)


@given(st.integers(0, 2**31 - 1))
def test_uncertainty_is_a_function_of_the_input(seed):
    model = small().eval()
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (3, 6), generator=generator)
    with torch.no_grad():
        first, again = model(ids).uncertainty, model(ids).uncertainty
        other = model(torch.roll(ids, 1, dims=0)).uncertainty
    assert torch.equal(first, again)
    assert torch.allclose(other, torch.roll(first, 1), atol=1e-6)  # follows its example through the batch
    assert ((first >= 0) & (first <= 1)).all()


def test_masked_lm_uncertainty_averages_the_scored_tokens():
    torch.manual_seed(0)
    model = QuantumMaskedLM(VOCAB, embedding_dim=DIM, num_heads=2, num_layers=1, dropout=0.0).eval()
    ids = torch.randint(0, VOCAB, (2, 6))
    labels = torch.full((2, 6), -100)
    labels[0, 1], labels[1, 4] = ids[0, 1], ids[1, 4]
    out = model(ids, labels=labels)
    per_token = model(ids).logits.softmax(-1)
    entropy = -(per_token * per_token.log()).sum(-1) / torch.log(torch.tensor(float(VOCAB)))
    assert torch.allclose(out.uncertainty, torch.stack([entropy[0, 1], entropy[1, 4]]), atol=1e-5)


def test_sense_accuracy_names_a_model_without_senses():
    from qembed.data import PolysemyCorpus
    from qembed.metrics import collect_sense_choices

    corpus = PolysemyCorpus(seed=0, num_train=8, num_val=0, num_test=0)
    model = ClassicalClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1)
    with pytest.raises(ValueError, match="ClassicalClassifier returns no sense_weights"):
        collect_sense_choices(model, corpus.loaders(batch_size=4)[0])


def test_a_contextual_layer_in_half_precision_has_finite_gradients():
    embeddings = layer().train().half()
    set_collapse_probability(embeddings, 0.5)
    out = embeddings(torch.randint(0, VOCAB, (2, 5)))
    (out.embeddings.float().sum() + out.amplitudes.float().sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in embeddings.parameters() if p.grad is not None)


def test_a_collapse_strategy_for_a_model_that_never_collapses_is_refused():
    from qembed.training import ConfigError, QuantumTrainer

    with pytest.raises(ConfigError, match=r"'collapse_strategy'\] is set but the model has no QuantumEmbeddings layer "
                                          r"that collapses \(collapse=True\)"):
        QuantumTrainer(small(collapse=False), "adamw", "cross_entropy", {"collapse_strategy": "sample"})
