"""``QuantumTrainer.predict`` and ``qembed.inference.predict_batches``: per-example,
unpadded predictions of a real classifier and masked LM, normalised, deterministic, the
same whatever the batch size (padding does not leak)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import qembed
from qembed.data import PolysemyCorpus, pad_collate
from qembed.inference import Predictions, predict_batches
from qembed.models import QuantumClassifier, QuantumMaskedLM
from qembed.training import QuantumTrainer
from qembed.training.batches import BadBatchError


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=8, num_val=12, num_test=13)


@pytest.fixture(scope="module")
def classifier(corpus) -> QuantumClassifier:
    torch.manual_seed(0)
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=2, num_layers=1,
                             max_length=32)


@pytest.fixture(scope="module")
def masked_lm(corpus) -> QuantumMaskedLM:
    torch.manual_seed(0)
    return QuantumMaskedLM(corpus.vocab_size, embedding_dim=8, num_heads=2, num_layers=1, max_length=32)


def evaluator(model) -> QuantumTrainer:
    return QuantumTrainer(model, None, device="cpu", progress_bar=False, epoch_table=False)


def assert_same(first: Predictions, second: Predictions, **tolerance) -> None:
    for name in ("input_ids", "probabilities", "uncertainty", "sense_probabilities", "sense_entropy", "labels"):
        a, b = getattr(first, name), getattr(second, name)
        if isinstance(a, list):
            assert len(a) == len(b), name
            for x, y in zip(a, b):
                torch.testing.assert_close(x, y, **tolerance)
        else:
            torch.testing.assert_close(a, b, **tolerance)


def check_normalised(predictions: Predictions) -> None:
    rows = predictions.probabilities if predictions.token_level else [predictions.probabilities]
    for probabilities in rows:
        torch.testing.assert_close(probabilities.sum(-1), torch.ones(probabilities.shape[:-1]))
    assert ((predictions.uncertainty >= 0) & (predictions.uncertainty <= 1)).all()
    for senses, entropy, ids in zip(predictions.sense_probabilities, predictions.sense_entropy,
                                    predictions.input_ids, strict=True):
        assert senses.shape[0] == entropy.shape[0] == ids.shape[0]
        torch.testing.assert_close(senses.sum(-1), torch.ones(len(ids)))
        assert ((entropy >= 0) & (entropy <= 1)).all()


def test_a_classifier_predicts_each_unpadded_example_deterministically(corpus, classifier):
    _, _, test = corpus.loaders(batch_size=5)
    classifier.train()
    predictions = evaluator(classifier).predict(test)
    assert classifier.training  # the mode is restored
    assert len(predictions) == len(corpus.test) and not predictions.token_level
    for ids, example in zip(predictions.input_ids, corpus.test, strict=True):
        assert torch.equal(ids, torch.as_tensor(example["input_ids"]))
    assert predictions.probabilities.shape == (len(corpus.test), corpus.num_labels)
    assert predictions.uncertainty.shape == (len(corpus.test),)
    assert all(senses.shape[1] == classifier.encoder.embeddings.num_states
               for senses in predictions.sense_probabilities)
    assert torch.equal(predictions.labels, torch.stack([torch.as_tensor(e["labels"]) for e in corpus.test]))
    assert torch.equal(predictions.predicted, predictions.probabilities.argmax(-1))
    check_normalised(predictions)
    assert all(t.device.type == "cpu" for t in [predictions.probabilities, *predictions.sense_probabilities])
    assert_same(predictions, evaluator(classifier).predict(test), rtol=0, atol=0)  # deterministic: equal


def test_padding_does_not_leak_into_a_prediction(corpus, classifier, masked_lm):
    one_by_one = corpus.loaders(batch_size=1)[2]
    batched = corpus.loaders(batch_size=13)[2]
    for model in (classifier, masked_lm):
        predictions = evaluator(model).predict(batched)
        assert len({len(ids) for ids in predictions.input_ids}) > 1  # the batch was padded
        assert_same(predictions, evaluator(model).predict(one_by_one), rtol=1e-5, atol=1e-6)


def test_a_masked_lm_predicts_every_token_of_each_example(corpus, masked_lm):
    _, val = corpus.mlm_loaders(batch_size=5)
    predictions = evaluator(masked_lm).predict(val)
    assert predictions.token_level and len(predictions) == len(corpus.val)
    for ids, probabilities, labels, example in zip(predictions.input_ids, predictions.probabilities,
                                                   predictions.labels, corpus.val, strict=True):
        length = len(example["input_ids"])
        assert ids.shape == labels.shape == (length,)
        assert probabilities.shape == (length, corpus.vocab_size)
        masked = labels != -100
        assert torch.equal(labels[masked], torch.as_tensor(example["input_ids"])[masked])
    assert [p.shape for p in predictions.predicted] == [ids.shape for ids in predictions.input_ids]
    check_normalised(predictions)


def test_batches_without_labels_predict_without_them(corpus, classifier):
    texts = ["the bank by the river", "the bank raised its rates again"]
    batch = pad_collate([{"input_ids": corpus.encode(text)} for text in texts], pad_id=corpus.pad_id)
    predictions = predict_batches(classifier, [batch], device="cpu")
    assert predictions.labels is None
    assert [len(ids) for ids in predictions.input_ids] == [len(corpus.encode(text)) for text in texts]
    assert qembed.inference.predict_batches is predict_batches  # lazily importable from qembed


def test_bad_batches_are_named(corpus, classifier):
    with pytest.raises(ValueError, match="the batches are empty"):
        predict_batches(classifier, [], device="cpu")
    with pytest.raises(BadBatchError, match=r"input_ids as a \[B, T\] tensor, got a tensor of shape \(4,\)"):
        predict_batches(classifier, [{"input_ids": torch.ones(4, dtype=torch.long)}], device="cpu")
    labelled = {"input_ids": torch.ones(2, 3, dtype=torch.long), "labels": torch.zeros(2, dtype=torch.long)}
    with pytest.raises(BadBatchError, match="some batches gave labels and some did not"):
        predict_batches(classifier, [labelled, {"input_ids": torch.ones(1, 3, dtype=torch.long)}], device="cpu")


@settings(max_examples=25)
@given(lengths=st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=4), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_predictions_are_each_example_without_its_padding(classifier, corpus, lengths, seed):
    generator = torch.Generator().manual_seed(seed)
    sequences = [[torch.randint(5, corpus.vocab_size, (n,), generator=generator) for n in batch] for batch in lengths]
    batches = [pad_collate([{"input_ids": ids, "labels": len(ids) % 2} for ids in batch]) for batch in sequences]
    predictions = predict_batches(classifier, batches, device="cpu")
    flat = [ids for batch in sequences for ids in batch]
    assert len(predictions) == len(flat)
    for ids, given_ids, senses, entropy in zip(predictions.input_ids, flat, predictions.sense_probabilities,
                                               predictions.sense_entropy, strict=True):
        assert torch.equal(ids, given_ids)
        assert senses.shape[0] == entropy.shape[0] == len(given_ids)
    assert predictions.labels.tolist() == [len(ids) % 2 for ids in flat]
    check_normalised(predictions)
