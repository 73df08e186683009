"""End to end: QuantumClassifier learns the polysemy task with a hand-written loop,
and context-aware collapse picks ground-truth senses better than the most-frequent sense."""

from __future__ import annotations

import pytest
import torch

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.metrics import collect_sense_choices, sense_accuracy
from qembed.models import QuantumClassifier
from qembed.nn import set_collapse_probability


def test_sense_accuracy_maps_slots_to_senses_per_word():
    # word 7: slots 3/1 stand for senses 0/1; word 9 always collapses to slot 0
    fit = torch.tensor([[7, 3, 0], [7, 3, 0], [7, 1, 1], [9, 0, 0], [9, 0, 1], [9, 0, 0]])
    evaluate = torch.tensor([[7, 3, 0], [7, 1, 1], [7, 1, 0], [9, 0, 0], [9, 0, 1]])
    score = sense_accuracy(fit, evaluate)
    assert score.accuracy == pytest.approx(3 / 5)
    assert score.baseline == pytest.approx(3 / 5)  # most frequent: word 7 -> 0, word 9 -> 0
    assert score.count == 5


@pytest.mark.slow
def test_classifier_learns_and_context_aware_collapse_finds_senses():
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=2000, num_val=300, num_test=300)
    train, val, test = corpus.loaders(batch_size=32, seed=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2,
                              num_layers=1, max_length=32, num_states=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    schedule = plugins.create("schedules", "linear")
    epochs = 6
    total = epochs * len(train)
    for step, batch in enumerate(b for _ in range(epochs) for b in train):
        set_collapse_probability(model, schedule(step, total))
        model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    model.eval()
    with torch.no_grad():
        correct = sum(int((model(b["input_ids"], b["attention_mask"]).logits.argmax(-1) == b["labels"]).sum())
                      for b in test)
    assert correct / len(corpus.test) > 0.6  # chance is 1/8
    senses = sense_accuracy(collect_sense_choices(model, val), collect_sense_choices(model, test))
    assert senses.accuracy > senses.baseline + 0.1  # the fair baseline: a collapse that ignores context
