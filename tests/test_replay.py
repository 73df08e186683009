"""Replay strategies, their contract check and the example utilities they are built on."""

from __future__ import annotations

import io
import math
from collections import defaultdict

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier, QuantumMaskedLM
from qembed.plugins import ComponentOptionError
from qembed.testing import check_replay
from qembed.testing.replay import example_key, replay_batches
from qembed.training.examples import (
    PAD_VALUES,
    batch_size,
    collate_examples,
    concat_batches,
    pad_value,
    split_examples,
)
from qembed_plugins.replay import ReservoirReplay

STRATEGIES = ["none", "reservoir", "class_balanced", "uncertainty"]
BUFFERS = ["reservoir", "class_balanced", "uncertainty"]


def tagged_batch(ids, labels=None, scores=None):
    """Examples identified by ``input_ids[:, 0]``, with sentence labels and a model output."""
    batch = {"input_ids": torch.tensor(ids).unsqueeze(1), "attention_mask": torch.ones(len(ids), 1, dtype=torch.long),
             "labels": torch.tensor(labels if labels is not None else [0] * len(ids))}
    return batch, {"uncertainty": torch.tensor(scores if scores is not None else [0.5] * len(ids))}


def stored_ids(buffer):
    """The ids of every stored example (drawing from the buffer's generator)."""
    sample = buffer.sample(len(buffer))
    return [] if sample is None else sample["input_ids"][:, 0].tolist()


@st.composite
def labelled_stream(draw, max_labels=5, max_size=60):
    """Labels and uncertainties of a stream of examples, cut into batches."""
    labels = draw(st.lists(st.integers(0, max_labels - 1), min_size=1, max_size=max_size))
    scores = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1), min_size=len(labels),
                           max_size=len(labels)))
    cuts = sorted(draw(st.sets(st.integers(1, len(labels) - 1), max_size=8))) if len(labels) > 1 else []
    bounds = [0, *cuts, len(labels)]
    return [tagged_batch(list(range(lo, hi)), labels[lo:hi], scores[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]


# --- registration and options ---------------------------------------------------


def test_every_builtin_strategy_is_registered_with_the_interface():
    assert set(STRATEGIES) <= set(plugins.available("replay"))
    for name in STRATEGIES:
        buffer = plugins.create("replay", name)
        assert len(buffer) == 0 and buffer.sample(4) is None and buffer.replay_size(32) == 0
        for method in ("add", "sample", "replay_size", "state_dict", "load_state_dict"):
            assert callable(getattr(buffer, method))
    reservoir = plugins.create("replay", "reservoir")
    assert (reservoir.capacity, reservoir.replay_ratio) == (1000, 0.25)


@pytest.mark.parametrize("options, option", [
    ({"capacity": 0}, "capacity"), ({"capacity": 2.5}, "capacity"), ({"capacity": True}, "capacity"),
    ({"replay_ratio": 1.0}, "replay_ratio"), ({"replay_ratio": -0.1}, "replay_ratio"),
    ({"replay_ratio": "0.5"}, "replay_ratio"), ({"seed": 1.5}, "seed"),
])
@pytest.mark.parametrize("name", BUFFERS)
def test_bad_options_raise_naming_the_option(name, options, option):
    with pytest.raises(ComponentOptionError, match=option):
        plugins.create("replay", name, **options)


def test_no_replay_takes_no_options():
    with pytest.raises(ComponentOptionError, match="capacity"):
        plugins.create("replay", "none", capacity=10)


@given(ratio=st.floats(0.0, 0.95), fresh=st.integers(0, 256), stored=st.integers(0, 300))
def test_replay_size_makes_replayed_examples_the_replay_ratio_of_the_mixed_batch(ratio, fresh, stored):
    buffer = ReservoirReplay(capacity=300, replay_ratio=ratio)
    if stored:
        buffer.add({"input_ids": torch.zeros(stored, 1, dtype=torch.long)})
    wanted = ratio * fresh / (1 - ratio)
    replayed = buffer.replay_size(fresh)
    assert replayed == min(round(wanted), stored)
    if fresh and replayed == round(wanted):
        # rounding moves the replayed share of the mixed batch by at most 0.5 / (wanted + fresh - 0.5)
        assert abs(replayed / (replayed + fresh) - ratio) <= 0.5 / (wanted + fresh - 0.5) + 1e-9


# --- the contract check ---------------------------------------------------------


@given(name=st.sampled_from(BUFFERS), capacity=st.integers(1, 10), batches=labelled_stream())
def test_capacity_is_never_exceeded_and_a_buffer_fills_up(name, capacity, batches):
    buffer = plugins.create("replay", name, capacity=capacity)
    offered = 0
    for batch, outputs in batches:
        buffer.add(batch, outputs)
        offered += batch_size(batch)
        assert len(buffer) == min(capacity, offered)


@pytest.mark.parametrize("name, options", [
    ("none", {}), ("reservoir", {"capacity": 5}), ("reservoir", {}),
    ("class_balanced", {"capacity": 6, "replay_ratio": 0.5, "seed": 3}), ("uncertainty", {"capacity": 4}),
])
def test_check_replay_passes_for_every_builtin(name, options):
    check_replay(plugins.available("replay")[name].factory, max_examples=30, **options)


class OverflowingReplay(ReservoirReplay):
    """Broken: keeps every example, past its capacity."""

    def add(self, batch, outputs=None):
        self._examples.extend(split_examples(batch))


class ReseedingReplay(ReservoirReplay):
    """Broken: forgets its generator state when restored."""

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.generator.manual_seed(12345)


@pytest.mark.parametrize("broken, message", [
    (OverflowingReplay, "over capacity"), (ReseedingReplay, "after restoring"),
])
def test_check_replay_fails_for_a_broken_strategy(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_replay(broken, max_examples=30, capacity=3)


# --- reservoir ------------------------------------------------------------------


def binomial_tail_bounds(n, p, alpha):
    """``(low, high)`` with ``P(X < low) <= alpha / 2`` and ``P(X > high) <= alpha / 2`` for X ~ Bin(n, p)."""
    pmf = [math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p)) for k in range(n + 1)]
    low, below = 0, 0.0
    while below + pmf[low] <= alpha / 2:
        below += pmf[low]
        low += 1
    high, above = n, 0.0
    while above + pmf[high] <= alpha / 2:
        above += pmf[high]
        high -= 1
    return low, high


def test_reservoir_keeps_every_offered_example_with_equal_probability():
    # 500 independent runs (seeds 0..499) offer N=1000 examples to a capacity-100 buffer,
    # so each position's inclusion count is exactly Binomial(500, 0.1) under uniformity.
    # False alarms: per-position exact two-sided bounds at 1e-6 each, Bonferroni over 1000
    # positions, <= 1e-3; per-decile Bernstein bounds at 1e-4 each over 10 deciles, <= 1e-3.
    # So a correct reservoir fails with probability <= 2e-3; the seeds are fixed, so the
    # outcome is deterministic.
    runs, offered, capacity = 500, 1000, 100
    counts = torch.zeros(offered, dtype=torch.long)
    for seed in range(runs):
        buffer = ReservoirReplay(capacity=capacity, seed=seed)
        for start in range(0, offered, 100):
            buffer.add({"input_ids": torch.arange(start, start + 100).unsqueeze(1)})
        kept = stored_ids(buffer)
        assert len(set(kept)) == capacity
        counts[kept] += 1
    p = capacity / offered
    low, high = binomial_tail_bounds(runs, p, alpha=1e-6)
    assert low <= int(counts.min()) and int(counts.max()) <= high, (int(counts.min()), int(counts.max()))
    # a decile's inclusions in one run are hypergeometric(1000, 100, 100): mean 10, |X - 10| <= 90
    variance = 100 * p * (1 - p) * (offered - 100) / (offered - 1)
    threshold = math.log(2 / 1e-4)
    # Bernstein: P(|S - ES| >= t) <= 2 exp(-t^2 / (2 (R var + 90 t / 3))); solve for t
    t = (2 * threshold * 30 + math.sqrt((2 * threshold * 30) ** 2 + 8 * threshold * runs * variance)) / 2
    deciles = counts.view(10, 100).sum(dim=1)
    assert bool(((deciles - runs * 10).abs() < t).all()), (deciles.tolist(), t)


def test_reservoir_keeps_everything_until_full():
    buffer = ReservoirReplay(capacity=10)
    buffer.add(tagged_batch(list(range(7)))[0])
    assert sorted(stored_ids(buffer)) == list(range(7))


# --- class balanced -------------------------------------------------------------


@given(capacity=st.integers(1, 12), batches=labelled_stream())
def test_class_balanced_counts_differ_by_at_most_one_and_evict_oldest_first(capacity, batches):
    buffer = plugins.create("replay", "class_balanced", capacity=capacity)
    offered = defaultdict(list)  # label -> ids in offer order
    for batch, _ in batches:
        buffer.add(batch)
        for identity, label in zip(batch["input_ids"][:, 0].tolist(), batch["labels"].tolist()):
            offered[label].append(identity)
        sample = buffer.sample(len(buffer))
        kept = defaultdict(list)
        for identity, label in zip(sample["input_ids"][:, 0].tolist(), sample["labels"].tolist()):
            kept[label].append(identity)
        counts = {label: len(kept[label]) for label in offered}
        assert sum(counts.values()) == min(capacity, sum(map(len, offered.values())))
        for a in offered:
            for b in offered:
                # a class is more than one short of another only when it has nothing more to give
                assert counts[a] <= counts[b] + 1 or counts[b] == len(offered[b]), (counts, a, b)
        for label, ids in offered.items():
            assert sorted(kept[label]) == ids[len(ids) - counts[label]:]  # the newest, oldest evicted first


def test_class_balanced_shares_the_buffer_equally_between_flooding_classes():
    buffer = plugins.create("replay", "class_balanced", capacity=10)
    for label in range(3):
        buffer.add(tagged_batch(list(range(100 * label, 100 * label + 20)), [label] * 20)[0])
    assert buffer.class_counts() == {0: 3, 1: 3, 2: 4}


def test_class_balanced_evicts_from_the_largest_class_holding_the_oldest_example():
    buffer = plugins.create("replay", "class_balanced", capacity=4)
    buffer.add(tagged_batch([0, 1, 2, 3], [0, 1, 0, 1])[0])
    buffer.add(tagged_batch([4], [2])[0])  # classes 0 and 1 tie at two: example 0 is the oldest
    assert sorted(stored_ids(buffer)) == [1, 2, 3, 4]


def test_class_balanced_rejects_token_level_and_missing_labels():
    buffer = plugins.create("replay", "class_balanced")
    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long), "labels": torch.full((2, 3), -100)}
    with pytest.raises(ValueError, match="token-level"):
        buffer.add(batch)
    with pytest.raises(ValueError, match="labels"):
        buffer.add({"input_ids": torch.ones(2, 3, dtype=torch.long)})
    assert len(buffer) == 0


# --- uncertainty ----------------------------------------------------------------


@given(capacity=st.integers(1, 12), batches=labelled_stream())
def test_uncertainty_keeps_exactly_the_most_uncertain_examples_preferring_newer(capacity, batches):
    buffer = plugins.create("replay", "uncertainty", capacity=capacity)
    seen = []
    for batch, outputs in batches:
        buffer.add(batch, outputs)
        seen += zip(outputs["uncertainty"].tolist(), batch["input_ids"][:, 0].tolist())
        expected = sorted(seen, reverse=True)[:capacity]  # ids grow with arrival: ties keep the newer
        assert sorted(stored_ids(buffer)) == sorted(identity for _, identity in expected)


def test_uncertainty_needs_the_model_outputs_uncertainty():
    buffer = plugins.create("replay", "uncertainty")
    batch, _ = tagged_batch([1, 2])
    with pytest.raises(ValueError, match="uncertainty"):
        buffer.add(batch)
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        buffer.add(batch, {"uncertainty": torch.zeros(2, 1)})
    with pytest.raises(ValueError, match="finite"):
        buffer.add(batch, {"uncertainty": torch.tensor([0.5, float("nan")])})
    assert len(buffer) == 0


# --- checkpointing --------------------------------------------------------------


def round_trip(state):
    saved = io.BytesIO()
    torch.save(state, saved)
    saved.seek(0)
    return torch.load(saved, weights_only=True)


@given(name=st.sampled_from(BUFFERS), capacity=st.integers(1, 10), seed=st.integers(0, 2**31),
       batches=labelled_stream(), data=st.data())
def test_a_restored_buffer_samples_and_adds_exactly_as_the_original(name, capacity, seed, batches, data):
    split = data.draw(st.integers(0, len(batches)))
    buffer = plugins.create("replay", name, capacity=capacity, seed=seed)
    for batch, outputs in batches[:split]:
        buffer.add(batch, outputs)
    twin = plugins.create("replay", name, capacity=capacity, seed=seed + 1)
    twin.load_state_dict(round_trip(buffer.state_dict()))
    for batch, outputs in batches[split:] + [(None, None)]:
        for n in (1, capacity, capacity + 3):
            first, second = buffer.sample(n), twin.sample(n)
            assert (first is None) == (second is None)
            if first is not None:
                assert all(torch.equal(first[key], second[key]) for key in first)
        if batch is not None:
            buffer.add(batch, outputs)
            twin.add(batch, outputs)


def test_loading_another_strategys_or_capacitys_state_raises():
    state = plugins.create("replay", "reservoir", capacity=5).state_dict()
    with pytest.raises(ValueError, match="reservoir"):
        plugins.create("replay", "uncertainty", capacity=5).load_state_dict(state)
    with pytest.raises(ValueError, match="capacity"):
        plugins.create("replay", "reservoir", capacity=6).load_state_dict(state)


def test_buffers_refuse_device_tensors_and_keep_copies_not_views():
    buffer = ReservoirReplay(capacity=4)
    batch = {"input_ids": torch.arange(12).view(4, 3)}
    buffer.add(batch)
    batch["input_ids"].zero_()
    assert buffer.sample(4)["input_ids"].sum() == sum(range(12))
    with pytest.raises(ValueError, match="CPU"):
        buffer.add({"input_ids": torch.ones(2, 3, dtype=torch.long, device="meta")})


# --- example utilities ----------------------------------------------------------


def test_pad_values():
    assert PAD_VALUES == {"labels": -100, "sense_ids": -100}
    assert (pad_value("labels"), pad_value("sense_ids")) == (-100, -100)
    assert pad_value("input_ids") == pad_value("attention_mask") == pad_value("anything") == 0


def token_level(batch):
    """The batch with MLM-style token labels (-100 at pads and unmasked positions)."""
    labels = torch.where(batch["attention_mask"].bool() & (batch["input_ids"] % 3 == 0), batch["input_ids"], -100)
    return {**batch, "labels": labels}


@given(pair=replay_batches(), token_labels=st.booleans())
def test_split_then_collate_gives_back_the_batch(pair, token_labels):
    batch = token_level(pair[0]) if token_labels else pair[0]
    examples = split_examples(batch)
    assert len(examples) == batch_size(batch)
    for example, length in zip(examples, batch["attention_mask"].sum(dim=1).tolist()):
        assert example["input_ids"].shape == (length,) and example["sense_ids"].shape == (length,)
        assert example["labels"].shape == ((length,) if token_labels else ())
    collated = collate_examples(examples)
    assert collated.keys() == batch.keys()
    assert all(torch.equal(collated[key], batch[key]) for key in batch)


@given(first=replay_batches(), second=replay_batches(), token_labels=st.booleans())
def test_concat_pads_the_shorter_batch_with_each_keys_pad_value(first, second, token_labels):
    a, b = (token_level(p[0]) if token_labels else p[0] for p in (first, second))
    joined = concat_batches(a, b)
    length = max(a["input_ids"].shape[1], b["input_ids"].shape[1])
    assert joined["input_ids"].shape == (batch_size(a) + batch_size(b), length)
    assert [example_key(e) for e in split_examples(joined)] == [
        example_key(e) for e in split_examples(a) + split_examples(b)
    ]
    pads = joined["attention_mask"] == 0
    for key in ("input_ids", "attention_mask", "sense_ids") + (("labels",) if token_labels else ()):
        assert bool((joined[key][pads] == pad_value(key)).all()), key


def test_split_without_a_mask_keeps_sequences_whole():
    batch = {"input_ids": torch.arange(6).view(2, 3), "labels": torch.tensor([4, 5])}
    examples = split_examples(batch)
    assert torch.equal(examples[1]["input_ids"], torch.tensor([3, 4, 5])) and examples[1]["labels"] == 5


def test_example_utilities_reject_inconsistent_batches():
    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 3, dtype=torch.long)}
    with pytest.raises(ValueError, match="attention_mask"):
        concat_batches(batch, {"input_ids": torch.ones(1, 3, dtype=torch.long)})
    with pytest.raises(ValueError, match="keys"):
        collate_examples([{"input_ids": torch.ones(2)}, {"labels": torch.tensor(1)}])
    with pytest.raises(ValueError, match="at least one"):
        collate_examples([])
    with pytest.raises(ValueError, match="batch"):
        batch_size({"input_ids": torch.ones(2, 3), "labels": torch.ones(3)})
    with pytest.raises(ValueError, match="right-padded"):
        split_examples({"input_ids": torch.ones(1, 3), "attention_mask": torch.tensor([[0, 1, 1]])})


# --- real batches ---------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return PolysemyCorpus(seed=0, num_train=200, num_val=10, num_test=10)


def offer_and_mix(buffer, loader, model):
    """Offer every batch with the model's output, mixing replayed examples in as the trainer will."""
    added = set()
    model.eval()
    for batch in loader:
        replayed = buffer.sample(buffer.replay_size(batch_size(batch)))
        mixed = batch if replayed is None else concat_batches(batch, replayed)
        with torch.no_grad():
            outputs = model(mixed["input_ids"], mixed["attention_mask"], labels=mixed["labels"])
        assert outputs.loss is not None and torch.isfinite(outputs.loss)
        fresh = batch_size(batch)
        buffer.add(batch, {"uncertainty": outputs.uncertainty[:fresh]})
        added.update(example_key(example) for example in split_examples(batch))
    return added


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategies_work_on_real_classification_batches(corpus, name):
    train, _, _ = corpus.loaders(batch_size=16)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_states=2,
                              num_layers=1, num_heads=2)
    buffer = plugins.create("replay", name) if name == "none" else plugins.create("replay", name, capacity=40)
    added = offer_and_mix(buffer, train, model)
    assert len(buffer) == (0 if name == "none" else 40)
    if name != "none":
        sample = buffer.sample(16)
        assert sample.keys() == {"input_ids", "attention_mask", "labels", "sense_ids"}
        assert all(example_key(example) in added for example in split_examples(sample))


@pytest.mark.parametrize("name", ["reservoir", "uncertainty"])
def test_strategies_work_on_token_level_mlm_batches(corpus, name):
    train, _ = corpus.mlm_loaders(batch_size=16)
    model = QuantumMaskedLM(corpus.vocab_size, embedding_dim=16, num_states=2, num_layers=1, num_heads=2)
    buffer = plugins.create("replay", name, capacity=40)
    added = offer_and_mix(buffer, train, model)
    sample = buffer.sample(16)
    assert sample["labels"].shape == sample["input_ids"].shape
    assert bool((sample["labels"][sample["attention_mask"] == 0] == -100).all())
    assert all(example_key(example) in added for example in split_examples(sample))


def test_class_balanced_refuses_mlm_batches(corpus):
    train, _ = corpus.mlm_loaders(batch_size=16)
    with pytest.raises(ValueError, match="token-level"):
        plugins.create("replay", "class_balanced").add(next(iter(train)))
