"""Tests of ``qembed.data``: the synthetic polysemy corpus, its loaders, MLM masking and tasks.

Statistical checks use Hoeffding's inequality, P(|X/n - p| >= t) <= 2 exp(-2 n t^2), with a
Bonferroni union over the checks of one test: each such test would fail on a *correct*
implementation with probability at most the false-alarm rate stated next to it (for a
random seed; the seeds here are fixed, so the outcome itself is deterministic).
"""

from __future__ import annotations

import math
import pickle
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, RandomSampler

from qembed.data import (
    DEFAULT_LEXICON,
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    Lexicon,
    MLMCollator,
    PolysemyCorpus,
    PolysemyDataset,
    pad_collate,
    split_labels,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def hoeffding_radius(n: int, false_alarm: float, num_checks: int = 1) -> float:
    """Radius ``t`` at which ``num_checks`` two-sided Hoeffding checks on ``n`` draws each
    jointly fail with probability <= ``false_alarm``."""
    return math.sqrt(math.log(2 * num_checks / false_alarm) / (2 * n))


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0)


@pytest.fixture(scope="module")
def special_corpus() -> PolysemyCorpus:
    """A corpus with [CLS] ... [SEP] around every sentence."""
    return PolysemyCorpus(seed=4, num_train=412, num_val=1, num_test=1, add_special_tokens=True)


def all_splits(corpus: PolysemyCorpus) -> list[PolysemyDataset]:
    return [corpus.train, corpus.val, corpus.test]


def split_tensors(dataset: PolysemyDataset) -> list[torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    return [
        torch.cat([item["input_ids"] for item in items]),
        torch.cat([item["sense_ids"] for item in items]),
        dataset.labels,
        dataset.lengths,
    ]


def check_sentences(corpus: PolysemyCorpus) -> None:
    """Every structural invariant of every sentence of ``corpus``."""
    config = corpus.config
    topics = corpus.lexicon.topics.values()
    topic_of_cue = {corpus.token_to_id[w]: t for t, words in enumerate(topics) for w in words}
    filler_ids = {corpus.token_to_id[w] for w in corpus.lexicon.fillers}
    ambiguous_ids = corpus.ambiguous_ids
    table = corpus.sense_label_table
    extra = 2 if config.add_special_tokens else 0
    for dataset in all_splits(corpus):
        for i in range(len(dataset)):
            item = dataset[i]
            ids, senses, label = item["input_ids"], item["sense_ids"], item["labels"]
            assert ids.dtype == senses.dtype == label.dtype == torch.long
            assert ids.dim() == 1 and senses.shape == ids.shape and label.dim() == 0
            assert config.min_length + extra <= len(ids) <= config.max_length + extra
            assert int(ids.min()) >= 0 and int(ids.max()) < corpus.vocab_size
            assert corpus.pad_id not in ids.tolist()
            tokens = ids.tolist()
            if config.add_special_tokens:
                assert tokens[0] == corpus.cls_id and tokens[-1] == corpus.sep_id
                tokens = tokens[1:-1]
            assert not set(tokens) & corpus.special_ids
            # exactly one ambiguous word type, once or twice; sense_ids marks exactly its occurrences
            word = int(dataset.words[i])
            sense = int(dataset.senses[i])
            is_ambiguous = torch.tensor([t in ambiguous_ids for t in ids.tolist()])
            assert set(ids[is_ambiguous].tolist()) == {word}
            assert 1 <= int(is_ambiguous.sum()) <= (2 if config.repeat_probability > 0 else 1)
            assert torch.equal(senses != IGNORE_INDEX, is_ambiguous)
            assert set(senses[is_ambiguous].tolist()) == {sense}
            # label = topic of the ground-truth sense
            assert int(label) == int(table[word, sense]) == int(dataset.labels[i])
            # k cues of the label topic, k of a distractor topic in which the word has no sense
            cues = Counter(topic_of_cue[t] for t in tokens if t in topic_of_cue)
            distractor = int(dataset.distractor_labels[i])
            assert set(cues) == {int(label), distractor}
            assert distractor not in table[word].tolist()
            assert cues[int(label)] == cues[distractor]
            assert config.min_cues <= cues[distractor] <= config.max_cues
            distractor_cues = [t for t in tokens if topic_of_cue.get(t) == distractor]
            assert len(set(distractor_cues)) == len(distractor_cues)  # distinct
            assert all(t in filler_ids or t in topic_of_cue or t == word for t in tokens)


# -- the lexicon and the vocabulary ------------------------------------------------------


def test_vocabulary_layout(corpus: PolysemyCorpus) -> None:
    assert corpus.vocab[:5] == list(SPECIAL_TOKENS) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert (corpus.pad_id, corpus.unk_id, corpus.cls_id, corpus.sep_id, corpus.mask_id) == (0, 1, 2, 3, 4)
    assert corpus.special_ids == frozenset(range(5))
    assert corpus.vocab_size == len(corpus.vocab) == len(set(corpus.vocab))
    assert all(corpus.token_to_id[token] == index for index, token in enumerate(corpus.vocab))
    assert corpus.num_labels == len(corpus.label_names) == len(DEFAULT_LEXICON.topics)
    assert corpus.label_names == list(DEFAULT_LEXICON.topics)
    assert corpus.max_senses == max(len(s) for s in corpus.ambiguous_words.values())
    for word, senses in corpus.ambiguous_words.items():
        assert 2 <= len(senses) <= 3 and len(set(senses)) == len(senses)
        assert set(senses) <= set(corpus.label_names)
        assert word in corpus.token_to_id
    table = corpus.sense_label_table
    assert table.shape == (corpus.vocab_size, corpus.max_senses)
    assert set((table >= 0).any(1).nonzero().flatten().tolist()) == corpus.ambiguous_ids


def test_default_figures(corpus: PolysemyCorpus) -> None:
    # the numbers quoted in docs/data.md
    assert corpus.vocab_size == 117
    assert corpus.num_labels == 8
    assert len(corpus.ambiguous_words) == 12
    assert sum(len(s) for s in corpus.ambiguous_words.values()) == 26
    assert corpus.max_senses == 3
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (4000, 500, 500)


def test_encode_decode(corpus: PolysemyCorpus) -> None:
    item = corpus.train[0]
    text = corpus.decode(item["input_ids"])
    assert corpus.encode(text) == item["input_ids"].tolist()
    assert corpus.encode("The BANK xyzzy [MASK]") == [
        corpus.token_to_id["the"], corpus.token_to_id["bank"], corpus.unk_id, corpus.mask_id
    ]
    bank = corpus.token_to_id["bank"]
    assert corpus.decode([corpus.cls_id, bank, corpus.pad_id, corpus.pad_id]) == "[CLS] bank"
    assert corpus.decode(torch.tensor([[5, 0]])[0]) == corpus.vocab[5]
    with pytest.raises(ValueError, match="ids"):
        corpus.decode([corpus.vocab_size])


TWO = {"a": ("x",), "b": ("y",)}
THREE = {"a": ("x",), "b": ("y",), "c": ("z",)}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"topics": {"a": ("x",)}, "fillers": ("f",), "ambiguous": {"w": ("a",)}}, "topics"),
        ({"topics": TWO, "fillers": ("x",), "ambiguous": {"w": ("a", "b")}}, "already used"),
        ({"topics": TWO, "fillers": ("f",), "ambiguous": {"w": ("a", "b")}}, "distractor"),
        ({"topics": THREE, "fillers": ("f",), "ambiguous": {"w": ("a",)}}, "at least 2 senses"),
        ({"topics": THREE, "fillers": ("f",), "ambiguous": {"w": ("a", "a")}}, "distinct topics"),
        ({"topics": THREE, "fillers": ("f",), "ambiguous": {"w": ("a", "q")}}, "unknown topic"),
        ({"topics": THREE, "fillers": ("f g",), "ambiguous": {"w": ("a", "b")}}, "without spaces"),
        ({"topics": THREE, "fillers": ("[MASK]",), "ambiguous": {"w": ("a", "b")}}, "special token"),
    ],
)
def test_bad_lexicon(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Lexicon(**kwargs)


def test_custom_lexicon() -> None:
    lexicon = Lexicon(
        topics={"a": ("a1", "a2"), "b": ("b1", "b2"), "c": ("c1", "c2")},
        fillers=("f",),
        ambiguous={"w": ("a", "b"), "v": ("b", "c")},
    )
    corpus = PolysemyCorpus(seed=3, num_train=200, num_val=5, num_test=5, min_length=6, max_length=9,
                            min_cues=1, max_cues=2, lexicon=lexicon)
    assert corpus.vocab_size == 5 + 6 + 1 + 2
    check_sentences(corpus)


# -- generation -----------------------------------------------------------------------


def test_default_corpus_invariants(corpus: PolysemyCorpus) -> None:
    check_sentences(corpus)


@given(
    seed=st.integers(-(2**40), 2**40),
    min_cues=st.integers(1, 3),
    extra_cues=st.integers(0, 2),
    repeat_probability=st.sampled_from([0.0, 0.3, 1.0]),
    spare=st.integers(0, 4),
    spread=st.integers(0, 6),
    add_special_tokens=st.booleans(),
    sizes=st.tuples(st.integers(1, 30), st.integers(0, 5), st.integers(0, 5)),
)
def test_generation_invariants(
    seed: int, min_cues: int, extra_cues: int, repeat_probability: float, spare: int, spread: int,
    add_special_tokens: bool, sizes: tuple[int, int, int],
) -> None:
    max_cues = min_cues + extra_cues
    min_length = 1 + (repeat_probability > 0) + 2 * max_cues + spare
    corpus = PolysemyCorpus(
        seed, *sizes, min_length=min_length, max_length=min_length + spread,
        min_cues=min_cues, max_cues=max_cues,
        repeat_probability=repeat_probability, add_special_tokens=add_special_tokens,
    )
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == sizes
    check_sentences(corpus)
    if repeat_probability == 1.0:
        assert all(int((corpus.train[i]["sense_ids"] != IGNORE_INDEX).sum()) == 2 for i in range(sizes[0]))


@given(seed=st.integers(-(2**40), 2**40))
def test_determinism(seed: int) -> None:
    first, second = (PolysemyCorpus(seed, 60, 20, 20) for _ in range(2))
    other = PolysemyCorpus(seed + 1, 60, 20, 20)
    for a, b, c in zip(all_splits(first), all_splits(second), all_splits(other)):
        for x, y in zip(split_tensors(a), split_tensors(b)):
            assert torch.equal(x, y)
        assert not all(
            x.shape == z.shape and torch.equal(x, z) for x, z in zip(split_tensors(a), split_tensors(c))
        )


def test_splits_are_independent_streams() -> None:
    small = PolysemyCorpus(seed=5, num_train=10, num_val=30, num_test=30)
    large = PolysemyCorpus(seed=5, num_train=100, num_val=30, num_test=30)
    for a, b in [(small.val, large.val), (small.test, large.test)]:
        for x, y in zip(split_tensors(a), split_tensors(b)):
            assert torch.equal(x, y)
    assert not torch.equal(split_tensors(small.val)[0][:50], split_tensors(small.test)[0][:50])


def test_senses_and_words_roughly_uniform(corpus: PolysemyCorpus) -> None:
    # Each word is drawn with p = 1/12 and each of its senses with p = 1/num_senses; one
    # Hoeffding check per word (on all 5000 sentences) and per (word, sense) (on that word's
    # sentences), Bonferroni-joined: false-alarm rate <= 1e-6 for a random seed.
    false_alarm = 1e-6
    words = torch.cat([d.words for d in all_splits(corpus)])
    senses = torch.cat([d.senses for d in all_splits(corpus)])
    num_checks = len(corpus.ambiguous_words) + sum(len(s) for s in corpus.ambiguous_words.values())
    radius = hoeffding_radius(len(words), false_alarm, num_checks)
    for word, word_senses in corpus.ambiguous_words.items():
        of_word = senses[words == corpus.token_to_id[word]]
        assert abs(len(of_word) / len(words) - 1 / len(corpus.ambiguous_words)) < radius, word
        sense_radius = hoeffding_radius(len(of_word), false_alarm, num_checks)
        for sense in range(len(word_senses)):
            share = float((of_word == sense).float().mean())
            assert share > 0, f"sense {sense} of {word!r} never occurs"
            assert abs(share - 1 / len(word_senses)) < sense_radius, (word, sense, share)
    assert set(senses.tolist()) <= set(range(corpus.max_senses))


def test_repeat_rate(corpus: PolysemyCorpus) -> None:
    # a second occurrence with probability repeat_probability; false-alarm rate <= 1e-6
    items = [corpus.train[i] for i in range(len(corpus.train))]
    counts = torch.stack([(item["sense_ids"] != IGNORE_INDEX).sum() for item in items])
    share = float((counts == 2).float().mean())
    assert abs(share - corpus.config.repeat_probability) < hoeffding_radius(len(counts), 1e-6)
    assert PolysemyCorpus(0, 50, 1, 1, repeat_probability=0.0).train.lengths.min() >= 7


# -- loaders --------------------------------------------------------------------------


def check_batch(batch: dict[str, torch.Tensor], corpus: PolysemyCorpus, batch_size: int) -> None:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    senses, labels = batch["sense_ids"], batch["labels"]
    assert set(batch) == {"input_ids", "attention_mask", "labels", "sense_ids"}
    assert all(t.dtype == torch.long for t in batch.values())
    assert ids.dim() == 2 and ids.shape == mask.shape == senses.shape
    assert labels.shape == (ids.shape[0],) and ids.shape[0] <= batch_size
    lengths = mask.sum(1)
    assert int(lengths.max()) == ids.shape[1]  # padded to the longest sentence
    positions = torch.arange(ids.shape[1])
    assert torch.equal(mask, (positions < lengths[:, None]).long())  # right-padded, 1 = real
    assert bool((ids[mask == 0] == corpus.pad_id).all()) and bool((ids[mask == 1] != corpus.pad_id).all())
    assert bool((senses[mask == 0] == IGNORE_INDEX).all())
    assert int(ids.max()) < corpus.vocab_size and set(labels.tolist()) <= set(range(corpus.num_labels))


def test_loaders(corpus: PolysemyCorpus) -> None:
    train, val, test = corpus.loaders(batch_size=16)
    assert isinstance(train.sampler, RandomSampler) and train.sampler.generator is not None
    for loader, dataset in [(train, corpus.train), (val, corpus.val), (test, corpus.test)]:
        batches = list(loader)
        assert len(batches) == math.ceil(len(dataset) / 16)
        for batch in batches:
            check_batch(batch, corpus, 16)
        assert sum(len(b["labels"]) for b in batches) == len(dataset)
        seen = torch.cat([b["labels"] for b in batches])
        assert Counter(seen.tolist()) == Counter(dataset.labels.tolist())
    # val and test keep dataset order; train is shuffled
    assert torch.equal(torch.cat([b["labels"] for b in val]), corpus.val.labels)
    assert not torch.equal(torch.cat([b["labels"] for b in train]), corpus.train.labels)
    unshuffled, _, _ = corpus.loaders(batch_size=16, shuffle=False)
    assert torch.equal(torch.cat([b["labels"] for b in unshuffled]), corpus.train.labels)


def test_loader_order_reproducible(corpus: PolysemyCorpus) -> None:
    def order(seed: int) -> torch.Tensor:
        return next(iter(corpus.loaders(batch_size=64, seed=seed)[0]))["input_ids"]

    assert torch.equal(order(7), order(7))
    assert not (order(7).shape == order(8).shape and torch.equal(order(7), order(8)))


@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=8),
    pad_id=st.integers(0, 3),
)
def test_pad_collate(lengths: list[int], pad_id: int) -> None:
    examples = [
        {
            "input_ids": torch.arange(5, 5 + n),
            "labels": torch.tensor(i),
            "sense_ids": torch.arange(n) % 3 - 1,
        }
        for i, n in enumerate(lengths)
    ]
    batch = pad_collate(examples, pad_id=pad_id)
    width = max(lengths)
    for key in ("input_ids", "attention_mask", "sense_ids"):
        assert batch[key].shape == (len(lengths), width)
    assert torch.equal(batch["labels"], torch.arange(len(lengths)))
    for row, (example, n) in enumerate(zip(examples, lengths)):
        assert torch.equal(batch["input_ids"][row, :n], example["input_ids"])
        assert torch.equal(batch["sense_ids"][row, :n], example["sense_ids"])
        assert bool((batch["input_ids"][row, n:] == pad_id).all())
        assert bool((batch["sense_ids"][row, n:] == IGNORE_INDEX).all())
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)


def test_pad_collate_rejects_empty() -> None:
    with pytest.raises(ValueError, match="examples"):
        pad_collate([])


def test_loaders_with_workers() -> None:
    corpus = PolysemyCorpus(seed=2, num_train=64, num_val=16, num_test=16)
    with_workers = [torch.cat([b["input_ids"].flatten() for b in corpus.loaders(8, num_workers=2)[0]])
                    for _ in range(2)]
    without = torch.cat([b["input_ids"].flatten() for b in corpus.loaders(8)[0]])
    assert torch.equal(with_workers[0], with_workers[1]) and torch.equal(with_workers[0], without)


# -- masked-language-model collation --------------------------------------------------


def mlm_batch(corpus: PolysemyCorpus, probability: float, seed: int, count: int) -> tuple[dict, dict]:
    examples = [corpus.train[i] for i in range(count)]
    collator = MLMCollator(corpus.vocab_size, corpus.mask_id, corpus.special_ids, probability,
                           torch.Generator().manual_seed(seed))
    return collator(examples), pad_collate(examples)


def check_mlm(
    batch: dict[str, torch.Tensor], plain: dict[str, torch.Tensor], corpus: PolysemyCorpus
) -> torch.Tensor:
    """Invariants of one masked batch; returns the selection mask."""
    assert set(batch) == {"input_ids", "attention_mask", "labels", "sense_ids"}
    assert batch["labels"].shape == batch["input_ids"].shape == plain["input_ids"].shape
    assert all(t.dtype == torch.long for t in batch.values())
    assert torch.equal(batch["attention_mask"], plain["attention_mask"])
    assert torch.equal(batch["sense_ids"], plain["sense_ids"])
    original, masked, labels = plain["input_ids"], batch["input_ids"], batch["labels"]
    selected = labels != IGNORE_INDEX
    special = torch.isin(original, torch.tensor(sorted(corpus.special_ids)))
    assert not bool((selected & special).any())  # never selects specials or pads
    assert not bool((selected & (batch["attention_mask"] == 0)).any())
    assert torch.equal(labels[selected], original[selected])  # labels = original id where selected
    assert torch.equal(masked[~selected], original[~selected])  # unselected tokens untouched
    replaced = selected & (masked != corpus.mask_id) & (masked != original)
    assert not bool(torch.isin(masked[replaced], torch.tensor(sorted(corpus.special_ids))).any())
    assert int(masked.max()) < corpus.vocab_size
    return selected


def test_mlm_rates(corpus: PolysemyCorpus) -> None:
    # Selection rate over ~64k real tokens, then the 80/10/10 shares among the ~9.6k selected
    # ones; 4 Hoeffding checks at a joint false-alarm rate <= 1e-6. A random replacement equal
    # to the original token (p = 1/112) counts as "unchanged": a bias of ~0.001, inside the bounds.
    false_alarm, checks, p = 1e-6, 4, 0.15
    batch, plain = mlm_batch(corpus, p, seed=0, count=len(corpus.train))
    selected = check_mlm(batch, plain, corpus)
    real = int(plain["attention_mask"].sum())
    assert abs(int(selected.sum()) / real - p) < hoeffding_radius(real, false_alarm, checks)
    masked, original = batch["input_ids"][selected], plain["input_ids"][selected]
    n = len(masked)
    radius = hoeffding_radius(n, false_alarm, checks)
    to_mask = float((masked == corpus.mask_id).float().mean())
    unchanged = float((masked == original).float().mean())
    to_random = 1.0 - to_mask - unchanged
    assert abs(to_mask - 0.8) < radius and abs(to_random - 0.1) < radius and abs(unchanged - 0.1) < radius


@given(
    probability=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32),
    count=st.integers(1, 12),
    start=st.integers(0, 400),
)
def test_mlm_invariants(
    special_corpus: PolysemyCorpus, probability: float, seed: int, count: int, start: int
) -> None:
    corpus = special_corpus
    examples = [corpus.train[start + i] for i in range(count)]
    collators = [MLMCollator(corpus.vocab_size, corpus.mask_id, corpus.special_ids, probability,
                             torch.Generator().manual_seed(seed)) for _ in range(2)]
    batches = [collator(examples) for collator in collators]
    check_mlm(batches[0], pad_collate(examples), corpus)
    for key in batches[0]:
        assert torch.equal(batches[0][key], batches[1][key])  # same generator seed, same masks


def test_mlm_reproducible_and_seed_dependent(corpus: PolysemyCorpus) -> None:
    a, _ = mlm_batch(corpus, 0.15, seed=1, count=64)
    b, _ = mlm_batch(corpus, 0.15, seed=1, count=64)
    c, _ = mlm_batch(corpus, 0.15, seed=2, count=64)
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])
    assert not torch.equal(a["labels"], c["labels"])
    default = MLMCollator(corpus.vocab_size, corpus.mask_id, corpus.special_ids)
    again = MLMCollator(corpus.vocab_size, corpus.mask_id, corpus.special_ids)
    examples = [corpus.train[i] for i in range(32)]
    assert torch.equal(default(examples)["labels"], again(examples)["labels"])


def test_mlm_loaders(corpus: PolysemyCorpus) -> None:
    train, val = corpus.mlm_loaders(batch_size=32, mask_probability=0.2, seed=3)
    assert train.sampler.generator is not None
    rebuilt = corpus.mlm_loaders(batch_size=32, mask_probability=0.2, seed=3)
    first = [next(iter(loader)) for loader in rebuilt]
    again = [next(iter(loader)) for loader in (train, val)]
    for a, b in zip(first, again):
        assert set(a) == {"input_ids", "attention_mask", "labels", "sense_ids"}
        for key in a:
            assert torch.equal(a[key], b[key])
        assert a["labels"].shape == a["input_ids"].shape
        assert bool((a["labels"][a["attention_mask"] == 0] == IGNORE_INDEX).all())
    plain_val = next(iter(corpus.loaders(batch_size=32)[1]))
    check_mlm(again[1], plain_val, corpus)


def test_mlm_workers_draw_different_masks() -> None:
    corpus = PolysemyCorpus(seed=2, num_train=64, num_val=1, num_test=1, min_length=20, max_length=20)
    def run() -> list[torch.Tensor]:
        collator = MLMCollator(corpus.vocab_size, corpus.mask_id, corpus.special_ids, 0.5,
                               torch.Generator().manual_seed(0))
        loader = DataLoader([corpus.train[0]] * 8, batch_size=4, collate_fn=collator, num_workers=2,
                            generator=torch.Generator().manual_seed(1))
        return [batch["labels"] for batch in loader]

    first, second = run(), run()
    assert all(torch.equal(a, b) for a, b in zip(first, second))  # reproducible
    assert not torch.equal(first[0], first[1])  # the two workers do not repeat each other


# -- continual learning ---------------------------------------------------------------


@given(num_labels=st.integers(1, 40), data=st.data())
def test_split_labels(num_labels: int, data: st.DataObject) -> None:
    num_tasks = data.draw(st.integers(1, num_labels))
    groups = split_labels(num_labels, num_tasks)
    assert len(groups) == num_tasks
    # disjoint, consecutive, covering
    assert [label for group in groups for label in group] == list(range(num_labels))
    sizes = [len(group) for group in groups]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


@pytest.mark.parametrize("num_tasks", [1, 3, 8])
def test_task_sequence(corpus: PolysemyCorpus, num_tasks: int) -> None:
    tasks = corpus.task_sequence(num_tasks, batch_size=64, seed=0)
    assert len(tasks) == num_tasks
    covered: list[int] = []
    for task_id, task_data in enumerate(tasks):
        assert set(task_data) == {"train", "val", "test", "labels"}
        labels = task_data["labels"]
        assert isinstance(labels, tuple) and labels
        covered += labels
        assert task_data["train"].sampler.generator is not None
        for split, dataset in [("train", corpus.train), ("val", corpus.val), ("test", corpus.test)]:
            batches = list(task_data[split])
            for batch in batches:
                check_batch(batch, corpus, 64)
            seen = torch.cat([b["labels"] for b in batches])
            assert set(seen.tolist()) <= set(labels), (task_id, split)
            assert len(seen) == int(torch.isin(dataset.labels, torch.tensor(labels)).sum())
    assert sorted(covered) == list(range(corpus.num_labels)) and len(set(covered)) == len(covered)


# -- bad arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: PolysemyCorpus(num_train=0), "num_train"),
        (lambda: PolysemyCorpus(num_val=-1), "num_val"),
        (lambda: PolysemyCorpus(num_test=-1), "num_test"),
        (lambda: PolysemyCorpus(min_length=10, max_length=9), "max_length"),
        (lambda: PolysemyCorpus(min_length=7, max_length=24), "min_length"),
        (lambda: PolysemyCorpus(min_length=5, max_length=8, max_cues=2), "min_length"),
        (lambda: PolysemyCorpus(min_length=6, max_length=8, repeat_probability=0.0), "min_length"),
        (lambda: PolysemyCorpus(min_cues=0), "min_cues"),
        (lambda: PolysemyCorpus(min_cues=3, max_cues=2), "max_cues"),
        (lambda: PolysemyCorpus(max_cues=11, min_length=30, max_length=30), "max_cues"),
        (lambda: PolysemyCorpus(repeat_probability=1.5), "repeat_probability"),
        (lambda: PolysemyCorpus(num_train=5).loaders(batch_size=0), "batch_size"),
        (lambda: PolysemyCorpus(num_train=5).loaders(num_workers=-1), "num_workers"),
        (lambda: PolysemyCorpus(num_train=5).loaders(seed=2**64), "seed"),
        (lambda: PolysemyCorpus(num_train=5).mlm_loaders(mask_probability=0.0), "mask_probability"),
        (lambda: PolysemyCorpus(num_train=5).mlm_loaders(mask_probability=1.0), "mask_probability"),
        (lambda: PolysemyCorpus(num_train=5).task_sequence(0), "num_tasks"),
        (lambda: PolysemyCorpus(num_train=5).task_sequence(9), "num_tasks"),
        (lambda: MLMCollator(10, 4, {0, 1, 2, 3, 4}, mask_probability=-0.1), "mask_probability"),
        (lambda: MLMCollator(10, 12, {0, 1, 2, 3, 4}), "mask_id"),
        (lambda: MLMCollator(0, 0, set()), "vocab_size"),
        (lambda: MLMCollator(5, 4, {0, 1, 2, 3, 4}), "special_ids"),
        (lambda: split_labels(4, 5), "num_tasks"),
    ],
)
def test_bad_arguments(make, name: str) -> None:
    with pytest.raises(ValueError, match=name) as raised:
        make()
    assert re.search(r"\[|\(|>=|<=", str(raised.value))  # states the accepted range


def test_wrong_types() -> None:
    with pytest.raises(TypeError, match="num_train"):
        PolysemyCorpus(num_train=10.0)
    with pytest.raises(TypeError, match="seed"):
        PolysemyCorpus(seed="0")
    with pytest.raises(TypeError, match="generator"):
        MLMCollator(10, 4, {0, 1, 2, 3, 4}, generator=0)


def test_mlm_rejects_out_of_vocab_ids() -> None:
    collator = MLMCollator(10, 4, {0, 1, 2, 3, 4})
    with pytest.raises(ValueError, match="input_ids"):
        collator([{"input_ids": torch.tensor([5, 10])}])


def test_a_loader_pickles_to_the_size_of_its_own_examples() -> None:
    """DataLoader workers and Ray trials pickle the loaders: each sentence must carry only
    its own tokens, never the storage of the whole split (which made 4 GB)."""
    corpus = PolysemyCorpus(seed=0, num_train=500, num_val=0, num_test=0)
    train, _, _ = corpus.loaders(batch_size=16)
    tokens = sum(len(example["input_ids"]) for example in corpus.train)
    assert len(pickle.dumps(train)) < 2 * 8 * tokens + 1000 * len(corpus.train)  # ids and senses, int64, + overhead
