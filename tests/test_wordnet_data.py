"""Tests of ``qembed.data.WordNetSenseCorpus``, the sense-annotated task from WordNet's examples.

Most tests read the installed database (Debian's ``wordnet-base``, which ``make test``
installs; ``QEMBED_WORDNET_DIR`` points elsewhere); without it they fail with the error that
names the package. The parser tests at the end build a tiny database of their own.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed.data import IGNORE_INDEX, SPECIAL_TOKENS, PolysemyDataset, WordNetSenseCorpus
from qembed.data.wordnet import (
    DEBIAN_ROOT,
    LEXNAMES,
    read_data,
    read_index,
    read_lexnames,
    tokenize,
    wordnet_root,
)
from qembed.metrics import collect_sense_choices, sense_accuracy
from qembed.models import QuantumClassifier

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def corpus() -> WordNetSenseCorpus:
    return WordNetSenseCorpus(seed=0)


def token_rows(dataset: PolysemyDataset) -> list[tuple[int, ...]]:
    return [tuple(dataset[i]["input_ids"].tolist()) for i in range(len(dataset))]


# -- the installed database -------------------------------------------------------------


def test_sizes_are_nonzero_and_the_documented_ones(corpus: WordNetSenseCorpus) -> None:
    sizes = (len(corpus.train), len(corpus.val), len(corpus.test))
    assert min(sizes) > 0
    again = WordNetSenseCorpus(seed=0)
    assert (len(again.train), len(again.val), len(again.test)) == sizes
    assert again.vocab == corpus.vocab
    if wordnet_root().resolve() != DEBIAN_ROOT.resolve():
        pytest.skip("the documented sizes are those of Debian's wordnet-base (WordNet 3.0)")
    # docs/data.md states these numbers
    assert sum(sizes) == 4337
    assert sizes == (3027, 429, 881)
    assert len(corpus.senses) == 1069
    assert sum(len(senses) for senses in corpus.senses.values()) == 3711
    assert corpus.num_labels == 26 and corpus.max_senses == 20
    assert corpus.vocab_size == 2335


def test_every_sentence_holds_its_targets_where_sense_ids_marks_them(corpus: WordNetSenseCorpus) -> None:
    for split in SPLITS:
        dataset = getattr(corpus, split)
        examples = corpus.examples[split]
        assert len(examples) == len(dataset)
        for i, example in enumerate(examples):
            item = dataset[i]
            ids, senses = item["input_ids"].tolist(), item["sense_ids"].tolist()
            # mark_target: "<target> [SEP] <sentence>", the prefix unmarked
            (target, separator), ids = ids[:2], ids[2:]
            assert separator == corpus.sep_id and senses[:2] == [IGNORE_INDEX, IGNORE_INDEX]
            senses = senses[2:]
            assert len(ids) == len(senses) == len(example.tokens) > 0
            assert example.tokens == tuple(tokenize(example.text))
            targets = {sense.lemma: corpus.senses[sense.lemma].index(sense) for sense in example.senses}
            assert targets, example
            for position, token in enumerate(example.tokens):
                if token in targets:  # every occurrence of a target is marked, with its sense
                    assert senses[position] == targets[token]
                    assert ids[position] == corpus.token_to_id[token]  # targets are always in the vocabulary
                else:
                    assert senses[position] == IGNORE_INDEX
            assert corpus.decode([ids[p] for p, s in enumerate(senses) if s != IGNORE_INDEX]).split() == [
                token for token in example.tokens if token in targets
            ]
            first = min(range(len(ids)), key=lambda p: (senses[p] == IGNORE_INDEX, p))
            assert dataset.words[i] == ids[first] == target and dataset.senses[i] == senses[first]
            assert dataset.distractor_labels[i] == -1


def test_labels_are_the_synsets_lexicographer_files(corpus: WordNetSenseCorpus) -> None:
    table = corpus.sense_label_table
    for split in SPLITS:
        dataset = getattr(corpus, split)
        for i, example in enumerate(corpus.examples[split]):
            label = int(dataset.labels[i])
            assert corpus.label_names[label] == example.lexname
            for sense in example.senses:  # one synset per sentence
                assert (sense.pos, sense.offset, sense.lexname) == (
                    example.senses[0].pos, example.senses[0].offset, example.lexname)
                word_id, sense_id = corpus.token_to_id[sense.lemma], corpus.senses[sense.lemma].index(sense)
                assert table[word_id, sense_id] == label
    assert corpus.label_names == [name for name in LEXNAMES if name in corpus.label_names]
    assert all(name.startswith("noun.") for name in corpus.label_names)
    for word, senses in corpus.senses.items():
        assert len(senses) >= 2 and len({sense.lexname for sense in senses}) >= 2, word
        assert [sense.number for sense in senses] == sorted({sense.number for sense in senses})
        assert corpus.ambiguous_words[word] == tuple(sense.lexname for sense in senses)
        assert (table[corpus.token_to_id[word]] >= 0).sum() == len(senses)
    assert corpus.ambiguous_ids == frozenset(corpus.token_to_id[word] for word in corpus.senses)


def _raw_synset_line(offset: int) -> str:
    """The data.noun line at ``offset``, found by seeking as wndb(5WN) prescribes."""
    with (wordnet_root() / "data.noun").open("rb") as file:
        file.seek(offset)
        return file.readline().decode("ascii")


def test_bank_examples_carry_their_known_synsets(corpus: WordNetSenseCorpus) -> None:
    found = {example.text: example for split in SPLITS for example in corpus.examples[split]}
    known = {  # example sentence -> (sense name, data.noun offset, lexicographer file)
        "they pulled the canoe up on the bank": ("bank.n.01", 9213565, "noun.object"),
        "he cashed a check at the bank": ("bank.n.02", 8420278, "noun.group"),
        "he operated a bank of switches": ("bank.n.04", 8462066, "noun.group"),
        "the coin bank was empty": ("bank.n.08", 4139859, "noun.artifact"),
        "the plane went into a steep bank": ("bank.n.10", 169305, "noun.act"),
    }
    for text, (name, offset, lexname) in known.items():
        example = found[text]
        (sense,) = example.senses
        assert (sense.name, sense.offset, sense.lexname, example.lexname) == (name, offset, lexname, lexname)
        fields = _raw_synset_line(offset).split()
        assert int(fields[0]) == offset and LEXNAMES[int(fields[1])] == lexname
        assert "bank" in [word.lower() for word in fields[4 : 4 + 2 * int(fields[3], 16) : 2]]
    bank = [sense.name for sense in corpus.senses["bank"]]
    assert bank[:2] == ["bank.n.01", "bank.n.02"] and "bank.n.05" not in bank  # 05 has no example
    assert corpus.senses["bank"][1].definition.startswith("a financial institution")


def test_splits_are_disjoint_complete_and_stratified(corpus: WordNetSenseCorpus) -> None:
    rows = {split: [example.tokens for example in corpus.examples[split]] for split in SPLITS}
    everything = [tokens for split in SPLITS for tokens in rows[split]]
    assert len(set(everything)) == len(everything)  # no sentence twice, within or across splits
    assert len(everything) == sum(len(getattr(corpus, split)) for split in SPLITS)
    in_split: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for split in SPLITS:
        for example in corpus.examples[split]:
            for sense in example.senses:
                in_split[(sense.lemma, sense.number)][split] += 1
    assert {key[0] for key in in_split} == set(corpus.senses)
    assert sum(len(senses) for senses in corpus.senses.values()) == len(in_split)
    for key, counts in in_split.items():
        if sum(counts.values()) >= 2:
            assert counts["train"] >= 1, key
    total = len(everything)
    assert abs(len(corpus.test) / total - corpus.test_fraction) < 0.02
    assert abs(len(corpus.val) / total - corpus.val_fraction) < 0.02


def test_same_seed_same_splits_other_seed_other_splits(corpus: WordNetSenseCorpus) -> None:
    same, other = WordNetSenseCorpus(seed=0), WordNetSenseCorpus(seed=1)
    for split in SPLITS:
        assert token_rows(getattr(same, split)) == token_rows(getattr(corpus, split))
        assert torch.equal(getattr(same, split).labels, getattr(corpus, split).labels)
        assert [tuple(same.examples[split][i].tokens) for i in range(3)] == [
            tuple(corpus.examples[split][i].tokens) for i in range(3)]
    assert [e.tokens for e in other.examples["test"]] != [e.tokens for e in corpus.examples["test"]]
    assert other.senses == corpus.senses and other.label_names == corpus.label_names


@settings(max_examples=8)
@given(seed=st.integers(-(2**40), 2**40), fractions=st.sampled_from([(0.1, 0.2), (0.0, 0.5), (0.3, 0.0)]))
def test_split_invariants_hold_for_any_seed(seed: int, fractions: tuple[float, float]) -> None:
    val_fraction, test_fraction = fractions
    corpus = WordNetSenseCorpus(seed, val_fraction=val_fraction, test_fraction=test_fraction, min_count=1)
    examples = [example for split in SPLITS for example in corpus.examples[split]]
    assert len({example.tokens for example in examples}) == len(examples)
    counts: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for split in SPLITS:
        for example in corpus.examples[split]:
            for sense in example.senses:
                counts[(sense.lemma, sense.number)][split] += 1
    assert all(c["train"] >= 1 for c in counts.values() if sum(c.values()) >= 2)
    if val_fraction == 0:
        assert len(corpus.val) == 0
    if test_fraction == 0:
        assert len(corpus.test) == 0
    # min_count=1: every training word is in the vocabulary
    assert all(corpus.unk_id not in corpus.train[i]["input_ids"] for i in range(len(corpus.train)))


def test_vocabulary(corpus: WordNetSenseCorpus) -> None:
    assert corpus.vocab[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert corpus.pad_id == 0 and corpus.unk_id == 1 and len(set(corpus.vocab)) == corpus.vocab_size
    train_counts = Counter(token for example in corpus.examples["train"] for token in example.tokens)
    words = set(corpus.vocab[len(SPECIAL_TOKENS):])
    assert words == set(corpus.senses) | {t for t, c in train_counts.items() if c >= corpus.min_count}
    assert corpus.encode("He cashed a check at the BANK!") == [
        corpus.token_to_id.get(word, corpus.unk_id) for word in "he cashed a check at the bank".split()]
    assert corpus.encode("zzyzx qwertyuiop") == [corpus.unk_id] * 2


@given(data=st.data())
def test_encode_decode_round_trip(corpus: WordNetSenseCorpus, data: st.DataObject) -> None:
    words = data.draw(st.lists(st.sampled_from(corpus.vocab[len(SPECIAL_TOKENS):]), min_size=1, max_size=12))
    text = " ".join(words)
    ids = corpus.encode(text)
    assert corpus.decode(ids) == text
    assert corpus.encode(corpus.decode(ids)) == ids


@given(text=st.text(max_size=60))
def test_tokenize_is_lowercase_words_and_idempotent(text: str) -> None:
    tokens = tokenize(text)
    assert all(token and token == token.lower() and token.replace("-", "").isalnum() and token.isascii()
               for token in tokens)
    assert tokenize(" ".join(tokens)) == tokens


def test_tokenize_examples() -> None:
    assert tokenize("He sat on the bank's edge; \"a black-and-white film\" -- 1990s!") == [
        "he", "sat", "on", "the", "bank", "s", "edge", "a", "black-and-white", "film", "1990s"]


def test_special_tokens_wrap_sentences() -> None:
    plain, wrapped = WordNetSenseCorpus(seed=3), WordNetSenseCorpus(seed=3, add_special_tokens=True)
    for i in range(len(plain.val)):
        ids, senses = wrapped.val[i]["input_ids"], wrapped.val[i]["sense_ids"]
        assert ids[0] == wrapped.cls_id and ids[-1] == wrapped.sep_id
        assert torch.equal(ids[1:-1], plain.val[i]["input_ids"])
        assert torch.equal(senses[1:-1], plain.val[i]["sense_ids"])
        assert senses[0] == senses[-1] == IGNORE_INDEX


def test_loaders_feed_a_quantum_classifier(corpus: WordNetSenseCorpus) -> None:
    train, val, test = corpus.loaders(batch_size=16, seed=0)
    batch = next(iter(train))
    assert batch["input_ids"].shape == batch["attention_mask"].shape == batch["sense_ids"].shape
    assert batch["labels"].shape == (batch["input_ids"].shape[0],)
    lengths = batch["attention_mask"].sum(1)
    assert batch["input_ids"].shape[1] == lengths.max()
    assert bool((batch["input_ids"][batch["attention_mask"] == 0] == corpus.pad_id).all())
    assert bool((batch["sense_ids"][batch["attention_mask"] == 0] == IGNORE_INDEX).all())
    assert [b["labels"].tolist() for b in corpus.loaders(batch_size=16, seed=0)[0]][:3] == [
        b["labels"].tolist() for b in corpus.loaders(batch_size=16, seed=0)[0]][:3]

    torch.manual_seed(0)
    model = QuantumClassifier(
        corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    output = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    assert output.logits.shape == (len(batch["labels"]), corpus.num_labels)
    assert torch.isfinite(output.loss)
    output.loss.backward()
    optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    score = sense_accuracy(collect_sense_choices(model, train), collect_sense_choices(model, test))
    assert score.count == int((torch.cat([test.dataset[i]["sense_ids"] for i in range(len(test.dataset))])
                               != IGNORE_INDEX).sum())
    assert 0.0 <= score.accuracy <= 1.0
    assert score.baseline == pytest.approx(corpus.baselines("test")["sense_mfs"])


def test_mlm_loaders_and_task_sequence(corpus: WordNetSenseCorpus) -> None:
    mlm_train, _ = corpus.mlm_loaders(batch_size=8)
    batch = next(iter(mlm_train))
    assert batch["labels"].shape == batch["input_ids"].shape
    tasks = corpus.task_sequence(num_tasks=2, batch_size=64)
    assert sum(len(task["train"].dataset) for task in tasks) == len(corpus.train)


def test_baselines_by_hand(corpus: WordNetSenseCorpus) -> None:
    fit: dict[str, Counter] = defaultdict(Counter)
    for example in corpus.examples["train"]:
        for sense in example.senses:
            fit[sense.lemma][corpus.senses[sense.lemma].index(sense)] += example.tokens.count(sense.lemma)
    # most frequent train sense, ties and unseen words: the lowest index (WordNet's most frequent)
    mfs = {word: min(counts, key=lambda s: (-counts[s], s)) for word, counts in fit.items()}
    right = total = label_right = 0
    majority = Counter(corpus.label_names[int(label)] for label in corpus.train.labels).most_common(1)[0][0]
    for example in corpus.examples["test"]:
        for sense in example.senses:
            count = example.tokens.count(sense.lemma)
            total += count
            right += count * (mfs.get(sense.lemma, 0) == corpus.senses[sense.lemma].index(sense))
        first = example.senses[0].lemma
        label_right += corpus.senses[first][mfs.get(first, 0)].lexname == example.lexname
    baselines = corpus.baselines("test")
    assert baselines["sense_mfs"] == pytest.approx(right / total)
    assert baselines["label_mfs"] == pytest.approx(label_right / len(corpus.test))
    assert baselines["label_majority"] == pytest.approx(
        sum(example.lexname == majority for example in corpus.examples["test"]) / len(corpus.test))
    if wordnet_root().resolve() == DEBIAN_ROOT.resolve():  # docs/data.md states these
        assert (round(baselines["sense_mfs"], 3), round(baselines["label_mfs"], 3),
                round(baselines["label_majority"], 3)) == (0.137, 0.278, 0.157)
    with pytest.raises(ValueError, match="split must be one of"):
        corpus.baselines("dev")


def test_nouns_and_verbs() -> None:
    both = WordNetSenseCorpus(seed=0, pos=("verb", "noun"))
    assert both.pos == ("noun", "verb")
    assert any(name.startswith("verb.") for name in both.label_names)
    assert both.label_names == [name for name in LEXNAMES if name in both.label_names]
    poses = [sense.pos for sense in both.senses["bank"]]
    assert poses == sorted(poses, key=("noun", "verb").index) and set(poses) == {"noun", "verb"}


# -- arguments and the missing resource -------------------------------------------------


def test_missing_database_names_the_package_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FileNotFoundError, match="wordnet-base") as error:
        WordNetSenseCorpus(root=tmp_path)
    message = str(error.value)
    assert "apt-get install wordnet-base" in message and "QEMBED_WORDNET_DIR" in message
    assert str(tmp_path) in message and "data.noun" in message
    monkeypatch.setenv("QEMBED_WORDNET_DIR", str(tmp_path / "nowhere"))
    assert wordnet_root() == tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        WordNetSenseCorpus()
    monkeypatch.setenv("QEMBED_WORDNET_DIR", "")
    assert wordnet_root() == DEBIAN_ROOT


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"pos": "nouns"}, ValueError, "pos must be"),
    ({"pos": ()}, ValueError, "pos must be"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "val_fraction \\+ test_fraction must be < 1"),
    ({"test_fraction": 1.0}, ValueError, "test_fraction must be in \\[0, 1\\)"),
    ({"val_fraction": "0.1"}, TypeError, "val_fraction must be a number"),
    ({"min_count": 0}, ValueError, "min_count must be >= 1"),
    ({"seed": 1.0}, TypeError, "seed must be an integer"),
    ({"add_special_tokens": 1}, TypeError, "add_special_tokens must be a bool"),
    ({"root": 3}, TypeError, "root must be a path"),
])
def test_bad_arguments(options: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        WordNetSenseCorpus(**options)


# -- the parser, on a tiny database written here ----------------------------------------------


HEADER = "  1 This is a tiny test database in the wndb(5WN) format.  \n"
TINY = [  # (lexicographer file number, words, gloss), data.noun order
    (17, ["bank"], 'sloping land; "they sat on the bank"; "the bank was muddy"'),
    (14, ["depository_financial_institution", "bank", "Banking_concern"],
     'a financial institution; "he cashed a check at the bank"; "bank fees"'),
    (6, ["bank"], "a building (no example)"),
    (5, ["bat", "chiropteran"], 'a flying mammal; "a bat flew by"'),
    (5, ["bat"], 'another animal sense; "the bat slept"'),
    (5, ["mouse"], 'a rodent; "a mouse ran" ; "a mouse ran"'),
    (6, ["mouse"], 'a pointing device; "click the Mouse button"'),
    (14, ["bank"], 'a duplicate; "they sat on the bank"'),
]


def write_tiny_database(root: Path) -> list[int]:
    """Write data.noun and index.noun for :data:`TINY`; return the synset offsets."""
    data, offsets = HEADER, []
    for lex_filenum, words, gloss in TINY:
        offsets.append(len(data))
        members = " ".join(f"{word} 0" for word in words)
        pointer = "001 @ 00000000 n 0000"
        data += f"{len(data):08d} {lex_filenum:02d} n {len(words):02x} {members} {pointer} | {gloss}  \n"
    senses: dict[str, list[int]] = defaultdict(list)
    for offset, (_, words, _) in zip(offsets, TINY):
        for word in words:
            senses[word.lower()].append(offset)
    index = HEADER + "".join(
        f"{word} n {len(found)} 1 @ {len(found)} 0 {' '.join(f'{o:08d}' for o in found)}  \n"
        for word, found in sorted(senses.items())
    )
    root.mkdir(exist_ok=True)
    (root / "data.noun").write_text(data)
    (root / "index.noun").write_text(index)
    return offsets


def test_parser_on_a_tiny_database(tmp_path: Path) -> None:
    offsets = write_tiny_database(tmp_path)
    synsets = read_data(tmp_path / "data.noun", LEXNAMES)
    assert list(synsets) == offsets
    second = synsets[offsets[1]]
    assert second.lexname == "noun.group" and second.ss_type == "n"
    assert second.words == ("depository_financial_institution", "bank", "banking_concern")
    assert second.definition == "a financial institution"
    assert second.examples == ("he cashed a check at the bank", "bank fees")
    assert synsets[offsets[2]].examples == ()
    assert list(read_data(tmp_path / "data.noun", LEXNAMES, examples_only=True)) == offsets[:2] + offsets[3:]
    index = read_index(tmp_path / "index.noun")
    assert index["bank"] == (offsets[0], offsets[1], offsets[2], offsets[7])

    corpus = WordNetSenseCorpus(seed=0, root=tmp_path, val_fraction=0.0, test_fraction=0.0, min_count=1)
    # bat: both senses noun.animal (dropped); bank.n.03: no example; "they sat on the bank" is
    # under two synsets (dropped); the repeated mouse example counts once
    assert list(corpus.senses) == ["bank", "mouse"]
    assert [s.name for s in corpus.senses["bank"]] == ["bank.n.01", "bank.n.02"]
    assert [s.name for s in corpus.senses["mouse"]] == ["mouse.n.01", "mouse.n.02"]
    assert corpus.label_names == ["noun.animal", "noun.artifact", "noun.group", "noun.object"]
    assert corpus.extraction_stats["conflicting_sequences"] == 1
    assert corpus.extraction_stats["repeated_examples"] == 1
    texts = {example.text: (example.lexname, corpus.train[i]["sense_ids"].tolist()[2:])  # after "<target> [SEP]"
             for i, example in enumerate(corpus.examples["train"])}
    assert texts == {
        "the bank was muddy": ("noun.object", [-100, 0, -100, -100]),
        "he cashed a check at the bank": ("noun.group", [-100] * 6 + [1]),
        "bank fees": ("noun.group", [1, -100]),
        "a mouse ran": ("noun.animal", [-100, 0, -100]),
        "click the Mouse button": ("noun.artifact", [-100, -100, 1, -100]),
    }

    (tmp_path / "lexnames").write_text("".join(f"{i:02d}\t{name}\t1\n" for i, name in enumerate(LEXNAMES)))
    assert read_lexnames(tmp_path) == LEXNAMES


def test_parser_rejects_a_corrupt_database(tmp_path: Path) -> None:
    write_tiny_database(tmp_path)
    path = tmp_path / "data.noun"
    text = path.read_text()
    path.write_text(text.replace("sloping land", "sloping  land"))  # later offsets no longer match
    with pytest.raises(ValueError, match="data.noun:3: not a wndb"):
        read_data(path, LEXNAMES)
    path.write_text(HEADER + "garbage line\n")
    with pytest.raises(ValueError, match="data.noun:2: not a wndb"):
        read_data(path, LEXNAMES)
    (tmp_path / "index.noun").write_text(HEADER + "bank n 1 0 1 0 123\n")
    with pytest.raises(ValueError, match="8 digits"):
        read_index(tmp_path / "index.noun")


def test_splits_by_fraction_on_a_tiny_database(tmp_path: Path) -> None:
    write_tiny_database(tmp_path)
    for seed in range(20):
        corpus = WordNetSenseCorpus(seed=seed, root=tmp_path, val_fraction=0.3, test_fraction=0.3)
        splits = {split: {e.text for e in corpus.examples[split]} for split in SPLITS}
        assert sum(map(len, splits.values())) == 5
        # bank.n.02 has 2 examples: one is always in train
        assert splits["train"] & {"he cashed a check at the bank", "bank fees"}
    assert math.isclose(corpus.val_fraction, 0.3)
