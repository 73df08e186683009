"""Tests of a user's own text data: readers, tokenizers, label maps, ``TextCorpus`` and ``read_dataset``.

Every file is written by the test; tokenizers are trained on the spot or built locally
(no download). ``datasets`` and ``transformers`` tests skip when the extra is missing.
"""

from __future__ import annotations

import csv
import json
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed.data import (
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    LabelMap,
    Lexicon,
    PolysemyCorpus,
    TextCorpus,
    TextDataset,
    TextTokenizer,
    read_dataset,
)
from qembed.data.text_corpus import split_by_fraction
from qembed.data.text_files import read_records
from qembed.models import QuantumClassifier, QuantumMaskedLM

TEXTS = [
    ("he deposited the cash at the bank", "finance"),
    ("the bank approved the loan quickly", "finance"),
    ("interest rates at the bank rose again", "finance"),
    ("they walked along the river bank at dusk", "nature"),
    ("the muddy bank of the stream was steep", "nature"),
    ("grass grew thick on the river bank", "nature"),
    ("the bat flew out of the dark cave", "animals"),
    ("a small bat hunted moths at night", "animals"),
    ("fur and wings: the bat is a mammal", "animals"),
    ("the batter swung the bat and scored", "sports"),
    ("a wooden bat and a leather ball", "sports"),
    ("the team lost the game in the last inning", "sports"),
]
SMALL = {"vocab_size": 120, "max_length": 32}


def rows(with_senses: bool = False) -> list[dict]:
    out = []
    for text, label in TEXTS:
        row = {"text": text, "label": label}
        if with_senses:
            row["senses"] = [0 if word in ("bank", "bat") else None for word in text.split()]
        out.append(row)
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_table(path: Path, records: list[dict], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(records[0]), delimiter=delimiter,
                                quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE)
        writer.writeheader()
        for record in records:
            writer.writerow({key: " ".join("-" if s is None else str(s) for s in value)
                             if isinstance(value, list) else value for key, value in record.items()})
    return path


@pytest.fixture(scope="module")
def wordpiece() -> TextTokenizer:
    return TextTokenizer.train([text for text, _ in TEXTS], algorithm="wordpiece", vocab_size=120, max_length=32)


# --- readers -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv"])
def test_each_reader_reads_texts_and_labels(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, rows())
    else:
        write_table(path, rows(), "," if suffix == ".csv" else "\t")
    table = read_records(path, fields=["text", "label"])[None]
    assert [(row["text"], row["label"]) for row in table.rows] == TEXTS
    assert table.location(2) == f"{path} line {3 if suffix == '.jsonl' else 4}"  # CSV / TSV: the header is line 1


def test_csv_quoted_text_with_commas_and_format_override(tmp_path):
    path = tmp_path / "data.data"
    write_table(path, [{"text": 'a "quoted", text, with commas', "label": "x"}])
    assert read_records(path, format="csv", fields=["text"])[None].rows[0]["text"] == 'a "quoted", text, with commas'


def test_plain_text_one_text_per_line_skipping_blank_lines(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("first line\n\n  \nsecond line\n")
    table = read_records(path, fields=["text"])[None]
    assert [row["text"] for row in table.rows] == ["first line", "second line"]
    assert table.location(1) == f"{path} line 4"
    with pytest.raises(ValueError, match="has no field 'label': a plain-text file holds one text per line"):
        read_records(path, fields=["text", "label"])


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".txt"])
def test_a_file_starting_with_a_utf8_bom_reads_as_without_it(tmp_path, suffix):
    """Excel's "CSV UTF-8" (and Notepad) start the file with a byte-order mark: not part of the header."""
    path = tmp_path / f"data{suffix}"
    text = {".csv": "text,label\nhello there,a\n", ".tsv": "text\tlabel\nhello there\ta\n",
            ".jsonl": '{"text": "hello there", "label": "a"}\n', ".txt": "hello there\n"}[suffix]
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    fields = ["text"] if suffix == ".txt" else ["text", "label"]
    assert read_records(path, fields=fields)[None].rows[0]["text"] == "hello there"


def test_messages_name_a_files_line_and_a_datasets_or_lists_row_from_1(tmp_path):
    """A CSV row is named by the file line it starts on (header = line 1, a quoted cell may span
    lines, blank lines count), as an editor shows it; a list's or a dataset's row counts from 1."""
    path = tmp_path / "data.csv"
    path.write_text('text,label\n"two\nlines",a\n\nfine,b\n"  ",a\n')
    with pytest.raises(ValueError, match=r"data.csv line 6: 'text' is an empty text"):
        TextCorpus(path, **SMALL)
    path.write_text('text,label\n"two\nlines",a\nshort\n')
    with pytest.raises(ValueError, match=r"data.csv line 4 has no value for 'label': it has fewer cells"):
        read_records(path, fields=["text", "label"])
    (tmp_path / "data.tsv").write_text("text\tlabel\nfine\ta\n\n \tb\n")
    with pytest.raises(ValueError, match=r"data.tsv line 4: 'text' is an empty text"):
        TextCorpus(tmp_path / "data.tsv", **SMALL)
    with pytest.raises(ValueError, match=r"^train row 2: 'text' is an empty text"):
        TextCorpus([{"text": "fine", "label": "a"}, {"text": "", "label": "a"}], **SMALL)
    datasets = pytest.importorskip("datasets")
    with pytest.raises(ValueError, match=r"^train row 2: 'text' is an empty text"):
        TextCorpus(datasets.Dataset.from_list([{"text": "fine", "label": "a"}, {"text": "", "label": "a"}]), **SMALL)


def test_list_of_dicts_and_datasets_objects_and_folders(tmp_path):
    datasets = pytest.importorskip("datasets")
    assert read_records(rows(), fields=["text"], name="train")[None].location(0) == "train row 1"
    dataset = datasets.Dataset.from_list(rows(with_senses=True))
    assert read_records(dataset, fields=["text", "label"])[None].rows == [
        {"text": text, "label": label} for text, label in TEXTS]
    dataset.save_to_disk(str(tmp_path / "one"))
    assert len(read_records(tmp_path / "one", fields=["text"])[None].rows) == len(TEXTS)
    splits = datasets.DatasetDict({"train": dataset, "test": dataset.select(range(3))})
    splits.save_to_disk(str(tmp_path / "dict"))
    tables = read_records(tmp_path / "dict", fields=["text", "senses"])
    assert sorted(tables) == ["test", "train"] and len(tables["test"].rows) == 3
    assert tables["test"].rows[0]["senses"] == rows(with_senses=True)[0]["senses"]


def test_textcorpus_from_a_saved_dataset_dict_uses_its_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_list(rows())
    datasets.DatasetDict({"train": dataset, "validation": dataset.select(range(2)),
                          "test": dataset.select(range(3))}).save_to_disk(str(tmp_path / "dict"))
    corpus = TextCorpus(tmp_path / "dict", **SMALL)
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (len(TEXTS), 2, 3)
    partial = TextCorpus(datasets.DatasetDict({"train": dataset}), test_fraction=0.25, validation_fraction=0.0,
                         **SMALL)
    assert (len(partial.train), len(partial.val), len(partial.test)) == (9, 0, 3)
    with pytest.raises(ValueError, match="no 'train' split"):
        TextCorpus(datasets.DatasetDict({"test": dataset}), **SMALL)
    with pytest.raises(ValueError, match="validation is given twice"):
        TextCorpus(tmp_path / "dict", validation=rows(), **SMALL)


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file '.*missing.csv' does not exist"):
        read_records(tmp_path / "missing.csv")
    (tmp_path / "data.xml").write_text("<x/>")
    with pytest.raises(ValueError, match=r"cannot tell the format of .*data.xml.* from its suffix '.xml'"):
        read_records(tmp_path / "data.xml")
    with pytest.raises(ValueError, match=r"format must be one of .* got 'cvs' \(did you mean 'csv'\?\)"):
        read_records(tmp_path / "data.xml", format="cvs")
    path = write_table(tmp_path / "data.csv", rows())
    with pytest.raises(ValueError, match=r"data.csv has no field 'lable' \(did you mean 'label'\?\); "
                                         r"its fields: 'text', 'label'"):
        read_records(path, fields=["text", "lable"])
    jsonl = write_jsonl(tmp_path / "data.jsonl", [{"text": "a", "label": 1}, {"txt": "b", "label": 2}])
    with pytest.raises(ValueError, match=r"data.jsonl line 2 has no field 'text' \(did you mean 'txt'\?\)"):
        read_records(jsonl, fields=["text"])
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl line 2 is not JSON"):
        read_records(tmp_path / "bad.jsonl")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty.csv is empty: a CSV file starts with a header row"):
        read_records(tmp_path / "empty.csv", fields=["text"])
    (tmp_path / "folder").mkdir()
    pytest.importorskip("datasets")
    with pytest.raises(ValueError, match="does not load as a Hugging Face dataset folder"):
        read_records(tmp_path / "folder")


# --- tokenizers ----------------------------------------------------------------------


_TRAIN_IN_A_PROCESS = """
import json, sys
from qembed.data import PolysemyCorpus, TextTokenizer
corpus = PolysemyCorpus(num_train=300, num_val=0, num_test=0)
texts = [corpus.decode(corpus.train[i]["input_ids"]) for i in range(len(corpus.train))]
print(json.dumps([text.ids for text in TextTokenizer.train(texts, vocab_size=60).encode(texts)]))
"""


def test_the_default_bpe_training_gives_one_vocabulary_in_every_process():
    """Training is reproducible across processes (each with its own hash seed), so a run's
    tokenizer follows from its data; WordPiece's is not (huggingface/tokenizers#1794)."""
    runs = {subprocess.run([sys.executable, "-c", _TRAIN_IN_A_PROCESS], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(3)}
    assert len(runs) == 1


@pytest.mark.parametrize("algorithm", ["wordpiece", "bpe"])
def test_train_save_and_reload_give_identical_encodings(tmp_path, algorithm):
    texts = [text for text, _ in TEXTS]
    tokenizer = TextTokenizer.train(texts, algorithm=algorithm, vocab_size=100, max_length=16)
    assert tokenizer.pad_id == 0 and tokenizer.mask_id == 4
    assert tokenizer.special_ids == frozenset(range(len(SPECIAL_TOKENS)))
    assert len(SPECIAL_TOKENS) < tokenizer.vocab_size <= 100
    encoded = tokenizer.encode(["The Bank, of the RIVER!", "a word " * 20])
    assert encoded[0].tokens[:2] == ("the", "bank")  # lowercased, no [CLS] added
    assert len(encoded[1].ids) == 16  # truncated
    assert encoded[0].word_ids[0] == 0 and encoded[0].word_ids[-1] == 4  # "RIVER!" is word 4
    tokenizer.save(tmp_path / "tok")
    again = TextTokenizer.load(tmp_path / "tok")
    assert again.encode(texts) == tokenizer.encode(texts)
    assert (again.vocab_size, again.pad_id, again.mask_id, again.special_ids, again.max_length) == (
        tokenizer.vocab_size, tokenizer.pad_id, tokenizer.mask_id, tokenizer.special_ids, tokenizer.max_length)
    assert TextTokenizer.load(tmp_path / "tok", max_length=4).encode(texts)[0].ids == tokenizer.encode(texts)[0].ids[:4]


def test_a_hugging_face_tokenizer_folder_loads(tmp_path, wordpiece):
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, processors

    backend = Tokenizer.from_str(wordpiece._tokenizer.to_str())
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64).save_pretrained(tmp_path / "hf")
    loaded = TextTokenizer.load(tmp_path / "hf")
    assert (loaded.pad_id, loaded.mask_id, loaded.max_length) == (0, 4, 64)
    assert {0, 1, 2, 3, 4} <= loaded.special_ids
    encoded = loaded.encode(["the river bank"])[0]
    assert encoded.tokens[0] == "[CLS]" and encoded.tokens[-1] == "[SEP]"
    assert encoded.word_ids == (None, 0, 1, 2, None)
    assert encoded.ids[1:-1] == wordpiece.encode(["the river bank"])[0].ids
    loaded.save(tmp_path / "resaved")  # a loaded tokenizer saves as qembed's own folder
    assert TextTokenizer.load(tmp_path / "resaved").encode(["the river bank"])[0] == encoded


def test_tokenizer_errors(tmp_path, wordpiece):
    with pytest.raises(ValueError, match="tokenizer folder '.*nowhere' does not load: no such folder"):
        TextTokenizer.load(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer folder '.*junk' does not load: "):
        TextTokenizer.load(tmp_path / "junk")
    wordpiece.save(tmp_path / "broken")
    (tmp_path / "broken" / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="tokenizer folder '.*broken' does not load: "):
        TextTokenizer.load(tmp_path / "broken")
    with pytest.raises(ValueError, match=r"vocab_size must be >= 6, got 5"):
        TextTokenizer.train(["a b"], vocab_size=5)
    with pytest.raises(ValueError, match=r"algorithm must be one of 'bpe', 'wordpiece', got 'bep' "
                                         r"\(did you mean 'bpe'\?\)"):
        TextTokenizer.train(["a b"], algorithm="bep")
    with pytest.raises(ValueError, match="max_length must be >= 1, got 0"):
        TextTokenizer.train(["a b"], max_length=0)
    with pytest.raises(ValueError, match=r"texts\[1\] is an empty text"):
        wordpiece.encode(["fine", "  "])
    with pytest.raises(TypeError, match="texts must be a sequence of strings"):
        wordpiece.encode("not a list")
    with pytest.raises(ValueError, match="vocab must hold \\[UNK\\]"):
        TextTokenizer.from_vocabulary(["[PAD]", "a"])


@given(st.lists(st.text(alphabet=string.ascii_letters + string.digits + " ,.!'-é\t", max_size=40), min_size=1,
                max_size=4).filter(lambda texts: all(text.strip() for text in texts)))
@settings(max_examples=60)
def test_word_ids_are_non_decreasing_and_within_the_words(texts):
    tokenizer = _property_tokenizer()
    for text, item in zip(texts, tokenizer.encode(texts)):
        words = [w for w in item.word_ids if w is not None]
        assert words == sorted(words)
        assert all(0 <= w < len(text.split()) for w in words)
        assert len(item.ids) == len(item.tokens) == len(item.word_ids) <= tokenizer.max_length


_CACHE: dict[str, TextTokenizer] = {}


def _property_tokenizer() -> TextTokenizer:
    if "t" not in _CACHE:
        _CACHE["t"] = TextTokenizer.train([text for text, _ in TEXTS], vocab_size=80, max_length=12)
    return _CACHE["t"]


CASED = Lexicon(topics={"t1": ("Money", "loan"), "t2": ("river", "mud"), "t3": ("ball", "game")},
                fillers=("the",), ambiguous={"bank": ("t1", "t2")})


@pytest.mark.parametrize("lexicon", ["default", "cased"])
@given(data=st.data())
@settings(max_examples=40)
def test_polysemy_tokenizer_gives_exactly_corpus_encode_ids(lexicon, data):
    corpus = _polysemy(lexicon)
    word = st.one_of(st.sampled_from(corpus.vocab), st.text(string.ascii_letters, min_size=1, max_size=6))
    words = data.draw(st.lists(word.map(lambda w: data.draw(st.sampled_from([w, w.upper(), w.lower(),
                                                                             w.capitalize()]))),
                               min_size=1, max_size=12))
    text = data.draw(st.sampled_from([" ", "  ", "\t"])).join(words)
    assert list(corpus.tokenizer.encode([text])[0].ids) == corpus.encode(text)


_CORPORA: dict[str, PolysemyCorpus] = {}


def _polysemy(lexicon: str) -> PolysemyCorpus:
    """The default lexicon, or one with a capitalised word ("cased")."""
    if lexicon not in _CORPORA:
        _CORPORA[lexicon] = PolysemyCorpus(seed=0, num_train=20, num_val=0, num_test=0, min_length=4,
                                           max_length=6, min_cues=1, max_cues=1,
                                           lexicon=CASED if lexicon == "cased" else None)
    return _CORPORA[lexicon]


def test_polysemy_tokenizer_on_the_corpus_sentences_and_saved(tmp_path):
    corpus = _polysemy("default")
    texts = [corpus.decode(corpus.train[i]["input_ids"]) for i in range(len(corpus.train))]
    assert [list(item.ids) for item in corpus.tokenizer.encode(texts)] == [
        corpus.train[i]["input_ids"].tolist() for i in range(len(corpus.train))]
    assert (corpus.tokenizer.vocab_size, corpus.tokenizer.pad_id, corpus.tokenizer.mask_id) == (
        corpus.vocab_size, corpus.pad_id, corpus.mask_id)
    assert corpus.tokenizer.special_ids == corpus.special_ids
    corpus.tokenizer.save(tmp_path / "tok")
    assert TextTokenizer.load(tmp_path / "tok").encode(texts) == corpus.tokenizer.encode(texts)


# --- label maps ----------------------------------------------------------------------


@given(st.sets(st.one_of(st.text(min_size=1, max_size=8), st.integers(-50, 50)), min_size=1, max_size=12))
def test_a_label_map_round_trips_any_set_of_labels(values):
    labels = LabelMap.from_values(values)
    assert len(labels) == len({str(v) for v in values})
    for value in values:
        assert labels.decode(labels.encode(value)) == str(value)
    assert LabelMap.from_values(reversed(list(values))) == labels  # order-free


def test_label_map_order_save_load_and_errors(tmp_path):
    assert LabelMap.from_values([10, "2", 1, "b", "a"]).names == ("1", "2", "10", "a", "b")
    labels = LabelMap(["negative", "positive"])
    labels.save(tmp_path / "labels.json")
    assert LabelMap.load(tmp_path / "labels.json") == labels
    with pytest.raises(ValueError, match=r"unknown label 'postive' \(did you mean 'positive'\?\); "
                                         r"the labels are 'negative', 'positive'"):
        labels.encode("postive")
    with pytest.raises(ValueError, match="label 'a' appears more than once"):
        LabelMap(["a", "a"])
    with pytest.raises(ValueError, match="index must be in \\[0, 1\\], got 2"):
        labels.decode(2)
    (tmp_path / "other.json").write_text('{"names": ["a"]}')
    with pytest.raises(ValueError, match="label map '.*other.json' does not load: not a qembed-labels file"):
        LabelMap.load(tmp_path / "other.json")


# --- fraction splits -----------------------------------------------------------------


@given(st.integers(0, 300), st.floats(0, 0.49), st.floats(0, 0.49), st.integers(-(2**40), 2**40))
def test_fraction_splits_partition_the_rows_deterministically(count, validation, test, seed):
    train, val, held = split_by_fraction(count, validation, test, seed)
    assert sorted(train + val + held) == list(range(count))
    assert (train, val, held) == split_by_fraction(count, validation, test, seed)
    assert len(held) == int(count * test + 0.5)
    assert len(val) == int(count * validation + 0.5)
    assert all(part == sorted(part) for part in (train, val, held))


def test_corpus_fraction_splits_are_seeded_disjoint_and_covering():
    data = [{"text": f"text number {i}", "label": i % 2} for i in range(50)]
    corpus = TextCorpus(data, validation_fraction=0.2, test_fraction=0.1, seed=3, **SMALL)
    splits = [corpus.train.texts, corpus.val.texts, corpus.test.texts]
    assert [len(s) for s in splits] == [35, 10, 5]
    assert sorted(sum(splits, [])) == sorted(row["text"] for row in data)
    again = TextCorpus(data, validation_fraction=0.2, test_fraction=0.1, seed=3, **SMALL)
    assert [again.train.texts, again.val.texts, again.test.texts] == splits
    other = TextCorpus(data, validation_fraction=0.2, test_fraction=0.1, seed=4, **SMALL)
    assert other.test.texts != corpus.test.texts
    none = TextCorpus(data, validation_fraction=0.0, test_fraction=0.0, **SMALL)
    assert (len(none.train), len(none.val), len(none.test)) == (50, 0, 0)


def test_the_label_map_covers_a_label_whose_rows_were_all_drawn_into_validation_or_test(tmp_path):
    """Labels come from every row of the train source; a label only in a separate validation or
    test source is refused as such, naming where."""
    data = [{"text": f"text number {i}", "label": "ab"[i % 2]} for i in range(21)]
    _, (val_row,), (test_row,) = split_by_fraction(len(data), 0.05, 0.05, 0)
    data[test_row]["label"] = "rare"
    data[val_row]["label"] = "seldom"
    corpus = TextCorpus(data, validation_fraction=0.05, test_fraction=0.05, seed=0, **SMALL)
    assert corpus.labels.names == ("a", "b", "rare", "seldom")
    assert [corpus.labels.decode(int(corpus.test[0]["labels"])), corpus.labels.decode(int(corpus.val[0]["labels"]))
            ] == ["rare", "seldom"]
    assert all(corpus.labels.decode(int(item["labels"])) in "ab" for item in corpus.train)
    train = write_jsonl(tmp_path / "train.jsonl", [row for row in data if row["label"] in "ab"])
    valid = write_jsonl(tmp_path / "valid.jsonl", [{"text": "one", "label": "a"}, {"text": "two", "label": "rare"}])
    with pytest.raises(ValueError, match=r"valid.jsonl line 2: 'rare' is a label of the validation data not in the "
                                         r"train data's labels \('a', 'b'\): the label map is built from the train"):
        TextCorpus(train, validation=valid, **SMALL)
    with pytest.raises(ValueError, match=r"^test row 2: 'rare' is a label of the test data not in the train data's"):
        TextCorpus(train, test=[{"text": "one", "label": "a"}, {"text": "two", "label": "rare"}], **SMALL)
    with pytest.raises(ValueError, match=r"valid.jsonl line 2: unknown label 'rare'; the labels are 'a', 'b'$"):
        TextCorpus(train, validation=valid, labels=["a", "b"], **SMALL)
    assert TextCorpus(train, validation=valid, labels=["a", "b", "rare"], **SMALL).val.labels.tolist() == [0, 2]


# --- TextCorpus ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv"])
def test_corpus_from_files_trains_a_classifier_step(tmp_path, suffix):
    train = tmp_path / f"train{suffix}"
    test = tmp_path / f"test{suffix}"
    writer = write_jsonl if suffix == ".jsonl" else (
        lambda p, r: write_table(p, r, "," if suffix == ".csv" else "\t"))
    writer(train, rows(with_senses=True))
    writer(test, rows(with_senses=True)[:4])
    corpus = TextCorpus(train, test=test, sense_field="senses", validation_fraction=0.25, tokenizer="bpe", **SMALL)
    assert corpus.labels.names == ("animals", "finance", "nature", "sports")
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (9, 3, 4)
    assert corpus.num_labels == 4 and corpus.max_sequence_length == 32
    assert corpus.options == {"format": None, "text_field": "text", "label_field": "label",
                              "sense_field": "senses", "lowercase": True, "max_length": 32}
    json.dumps(corpus.options)
    item = corpus.test[0]
    assert corpus.labels.decode(int(item["labels"])) == "finance"
    train_loader, val_loader, test_loader = corpus.loaders(batch_size=4, seed=1)
    batch = next(iter(train_loader))
    assert batch["input_ids"].shape == batch["attention_mask"].shape == batch["sense_ids"].shape
    assert bool((batch["input_ids"][batch["attention_mask"] == 0] == corpus.tokenizer.pad_id).all())
    first_epochs = [[b["labels"].tolist() for b in corpus.loaders(batch_size=4, seed=1)[0]] for _ in range(2)]
    assert first_epochs[0] == first_epochs[1]  # deterministic given the seed
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=corpus.max_sequence_length)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    output = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    assert output.logits.shape == (len(batch["labels"]), 4) and torch.isfinite(output.loss)
    output.loss.backward()
    optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_senses_go_to_the_first_token_of_their_word(wordpiece):
    data = [{"text": "Riverbanks, bank bat", "label": "x", "senses": [2, None, "-"]},
            {"text": "bank bat", "label": "y", "senses": "1 0"}]
    corpus = TextCorpus(data, sense_field="senses", tokenizer=wordpiece, validation_fraction=0, test_fraction=0)
    for index, word_senses in enumerate([[2, None, None], [1, 0]]):
        encoded = wordpiece.encode([data[index]["text"]])[0]
        expected = [IGNORE_INDEX if word is None or (j and encoded.word_ids[j - 1] == word) or
                    word_senses[word] is None else word_senses[word] for j, word in enumerate(encoded.word_ids)]
        assert corpus.train[index]["sense_ids"].tolist() == expected
    first = corpus.train[0]["sense_ids"].tolist()
    assert first[0] == 2 and first.count(2) == 1 and len(first) > 3  # "Riverbanks," spans several tokens


def test_unlabelled_text_gives_masked_batches_a_masked_lm_takes(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("\n".join(text for text, _ in TEXTS * 3))
    corpus = TextCorpus(path, label_field=None, **SMALL)
    assert corpus.labels is None and corpus.num_labels == 0 and "labels" not in corpus.train[0]
    mlm_train, mlm_val = corpus.mlm_loaders(batch_size=8, mask_probability=0.3, seed=0)
    batch = next(iter(mlm_train))
    assert batch["labels"].shape == batch["input_ids"].shape
    assert bool((batch["labels"] != IGNORE_INDEX).any())
    masked = batch["labels"] != IGNORE_INDEX
    assert not torch.isin(batch["labels"][masked], torch.tensor(sorted(corpus.tokenizer.special_ids))).any()
    assert torch.equal(batch["input_ids"], next(iter(corpus.mlm_loaders(batch_size=8, mask_probability=0.3,
                                                                          seed=0)[0]))["input_ids"])
    model = QuantumMaskedLM(corpus.vocab_size, embedding_dim=16, num_heads=2, num_layers=1, max_length=32)
    output = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    assert output.logits.shape == (*batch["input_ids"].shape, corpus.vocab_size) and torch.isfinite(output.loss)
    assert len(mlm_val.dataset) == len(corpus.val)


def test_a_tokenizer_folder_and_given_labels(tmp_path, wordpiece):
    wordpiece.save(tmp_path / "tok")
    corpus = TextCorpus(rows(), tokenizer=tmp_path / "tok", labels=["sports", "nature", "finance", "animals"],
                        max_length=8)
    assert corpus.tokenizer.max_length == 8 and corpus.options["max_length"] == 8
    assert corpus.labels.encode("sports") == 0
    assert all(len(corpus.train[i]["input_ids"]) <= 8 for i in range(len(corpus.train)))


def test_read_dataset_with_a_saved_tokenizer_and_labels(tmp_path, wordpiece):
    wordpiece.save(tmp_path / "tok")
    labels = LabelMap(["animals", "finance", "nature", "sports"])
    path = write_jsonl(tmp_path / "eval.jsonl", rows())
    dataset = read_dataset(path, tokenizer=tmp_path / "tok", labels=labels)
    assert isinstance(dataset, TextDataset) and len(dataset) == len(TEXTS)
    assert dataset[0]["input_ids"].tolist() == list(wordpiece.encode([TEXTS[0][0]])[0].ids)
    assert labels.decode(int(dataset[3]["labels"])) == "nature"
    write_jsonl(tmp_path / "new.jsonl", [*rows()[:2], {"text": "a cooking text", "label": "cookng"}])
    with pytest.raises(ValueError, match=r"new.jsonl line 3: unknown label 'cookng'; the labels are 'animals', "):
        read_dataset(tmp_path / "new.jsonl", tokenizer=wordpiece, labels=labels)
    with pytest.raises(ValueError, match="labels is None but label_field is 'label'"):
        read_dataset(path, tokenizer=wordpiece, labels=None)


def test_corpus_errors(tmp_path, wordpiece):
    path = write_table(tmp_path / "data.csv", rows())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TextCorpus(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match=r"has no field 'body'; its fields: 'text', 'label'"):
        TextCorpus(path, text_field="body")
    with pytest.raises(ValueError, match=r"has no field 'labels' \(did you mean 'label'\?\)"):
        TextCorpus(path, label_field="labels")
    empty = write_jsonl(tmp_path / "empty_text.jsonl", [*rows()[:3], {"text": "   ", "label": "x"}])
    with pytest.raises(ValueError, match=r"empty_text.jsonl line 4: 'text' is an empty text"):
        TextCorpus(empty, validation_fraction=0, test_fraction=0, **SMALL)
    nolabel = write_jsonl(tmp_path / "no_label.jsonl", [*rows()[:3], {"text": "words", "label": None}])
    with pytest.raises(ValueError, match=r"no_label.jsonl line 4: 'label' has no label"):
        TextCorpus(nolabel, **SMALL)
    with pytest.raises(ValueError, match=r"unknown label 'sports'"):
        TextCorpus(path, labels=["finance", "nature", "animals"], **SMALL)
    with pytest.raises(ValueError, match=r"validation_fraction must be in \[0, 1\), got 1.0"):
        TextCorpus(path, validation_fraction=1.0)
    with pytest.raises(ValueError, match=r"test_fraction must be in \[0, 1\), got -0.1"):
        TextCorpus(path, test_fraction=-0.1)
    with pytest.raises(ValueError, match=r"validation_fraction \+ test_fraction must be < 1"):
        TextCorpus(path, validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="vocab_size must be >= 6, got 3"):
        TextCorpus(path, vocab_size=3)
    with pytest.raises(ValueError, match=r"tokenizer must be 'bpe', 'wordpiece', a tokenizer folder or a "
                                         r"TextTokenizer, got 'wordpeice' \(did you mean 'wordpiece'\?\)"):
        TextCorpus(path, tokenizer="wordpeice")
    with pytest.raises(ValueError, match=r"got '.*wordpeice' \(did you mean 'wordpiece'\?\) \(no such folder\)"):
        TextCorpus(path, tokenizer=str(tmp_path / "wordpeice"))  # as a run config passes it: made absolute
    (tmp_path / "not_a_tokenizer").mkdir()
    with pytest.raises(ValueError, match="tokenizer folder '.*not_a_tokenizer' does not load"):
        TextCorpus(path, tokenizer=tmp_path / "not_a_tokenizer")
    senses = write_jsonl(tmp_path / "senses.jsonl", [{"text": "two words", "label": "a", "senses": [0]}])
    with pytest.raises(ValueError, match=r"senses.jsonl line 1: 'senses' has 1 entries for a text of 2 words"):
        TextCorpus(senses, sense_field="senses", tokenizer=wordpiece, validation_fraction=0, test_fraction=0)
    bad = write_jsonl(tmp_path / "bad_senses.jsonl", [{"text": "two words", "label": "a", "senses": [0, -1]}])
    with pytest.raises(ValueError, match=r"a sense must be an integer >= 0 \(or null, '' or '-'\), got -1"):
        TextCorpus(bad, sense_field="senses", tokenizer=wordpiece, validation_fraction=0, test_fraction=0)
    with pytest.raises(ValueError, match="labels is given but label_field is None"):
        TextCorpus(path, label_field=None, labels=["a"])
    with pytest.raises(ValueError, match="must name different fields"):
        TextCorpus(path, label_field="text")
