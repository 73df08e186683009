"""``qembed.plotting.sense_heatmap``: one panel per sentence whose image is the [T, K]
sense probabilities, drawn from a real model's predictions and written as PNG and SVG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qembed.data import PolysemyCorpus, pad_collate
from qembed.inference import predict_batches
from qembed.models import QuantumClassifier
from qembed.plotting import sense_heatmap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def heatmaps(figure) -> list:
    return [axes for axes in figure.axes if axes.images]


def test_each_sentence_is_a_panel_of_its_tokens_senses_from_a_real_model(tmp_path):
    corpus = PolysemyCorpus(seed=0, num_train=8, num_val=0, num_test=0)
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=2, num_layers=1,
                              num_states=3, max_length=32)
    texts = ["the bank by the river", "the bank raised its rates again today"]
    batch = pad_collate([{"input_ids": corpus.encode(text)} for text in texts], pad_id=corpus.pad_id)
    predictions = predict_batches(model, [batch], device="cpu")
    sentences = [
        ([corpus.vocab[i] for i in ids], senses, entropy,
         f"{corpus.label_names[int(probabilities.argmax())]} (uncertainty {float(uncertainty):.2f})")
        for ids, senses, entropy, probabilities, uncertainty in zip(
            predictions.input_ids, predictions.sense_probabilities, predictions.sense_entropy,
            predictions.probabilities, predictions.uncertainty, strict=True)
    ]
    figure = sense_heatmap(sentences, path=tmp_path / "senses.png")
    panels = heatmaps(figure)
    assert len(panels) == len(texts)
    for axes, (tokens, senses, _, _) in zip(panels, sentences, strict=True):
        image = axes.images[0].get_array()
        assert image.shape == (len(tokens), 3)
        np.testing.assert_allclose(image, senses.numpy(), atol=1e-6)
        assert [label.get_text() for label in axes.get_yticklabels()] == tokens
    assert [panel.get_suptitle() for panel in figure.subfigs] == [title for *_, title in sentences]
    assert (tmp_path / "senses.png").read_bytes().startswith(PNG_SIGNATURE)
    sense_heatmap(sentences[:1], path=tmp_path / "senses.svg")
    assert (tmp_path / "senses.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(("sentence", "message"), [
    ((["a", "b"], np.full((3, 2), 0.5), np.zeros(2), "t"), r"sentence 0 \('t'\): sense_probabilities must be \[T, K\] "
                                                            r"with T = 2 tokens, got shape \(3, 2\)"),
    ((["a"], np.ones((1, 2)), np.zeros(2), "t"), r"token_uncertainty must be \[T\] with T = 1 tokens"),
    ((["a"], [[np.nan, 1.0]], [0.0], "t"), "sense_probabilities must be finite and >= 0"),
    ((["a"], [[2.0, 1.0]], [0.0], "t"), "sense_probabilities must be in \\[0, 1\\], got a maximum of 2"),
    (("ab", [[1.0]], [0.0], "t"), "tokens must be a sequence of strings"),
    (([], np.zeros((0, 2)), np.zeros(0), "t"), r"sentence 0 \('t'\) has no tokens"),
    ((["a"], [[1.0]]), "sentence 0 must be \\(tokens, sense_probabilities, token_uncertainty, title\\)"),
])
def test_a_sentence_that_does_not_fit_is_named(sentence, message):
    with pytest.raises(ValueError, match=message):
        sense_heatmap([sentence])


def test_no_sentence_is_refused():
    with pytest.raises(ValueError, match="no sentence to draw"):
        sense_heatmap([])
