"""From a user's own text files to predictions, end to end through the command line:
``qembed train`` on CSV, JSON Lines, TSV and a saved ``datasets`` folder, then ``qembed
predict``, ``evaluate`` and ``explain`` on the run folder; the same predictions after a
reload in a fresh process; masked-LM pre-training on raw text then fine-tuning from it;
``--resume`` keeping the run's tokenizer; and each bad input refused on one line before a
run folder is written. Every file is written by the test; every run is a few seconds."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

import qembed
from qembed.cli import main
from qembed.cli.run_config import load_run_config
from qembed.cli.run_setup import prepare_run
from qembed.data import LabelMap, TextCorpus, TextTokenizer
from qembed.inference import Predictor
from qembed.models import ClassicalClassifier, QuantumClassifier, QuantumMaskedLM
from qembed.training import QuantumTrainer
from qembed.training.checkpoint_io import safe_load
from tests.conftest import REPO_ROOT

TEXTS = [
    ("he deposited the cash at the bank", "finance"),
    ("the bank approved the loan quickly", "finance"),
    ("interest rates at the bank rose again", "finance"),
    ("they walked along the river bank at dusk", "nature"),
    ("the muddy bank of the stream was steep", "nature"),
    ("grass grew thick on the river bank", "nature"),
    ("the bat flew out of the dark cave", "animals"),
    ("a small bat hunted moths at night", "animals"),
    ("the batter swung the bat and scored", "sports"),
    ("the team lost the game in the last inning", "sports"),
] * 3
LABELS = ["animals", "finance", "nature", "sports"]
NUM_STATES = 2
QUERIES = ["the bank raised its rates", "we sat on the river bank"]


def records(with_senses: bool = False) -> list[dict[str, Any]]:
    """The texts as records; with senses, sense 0 or 1 on "bank" and "bat" (by label), none elsewhere."""
    out = []
    for text, label in TEXTS:
        record: dict[str, Any] = {"text": text, "label": label}
        if with_senses:
            sense = int(label in ("nature", "sports"))
            record["senses"] = [sense if word in ("bank", "bat") else None for word in text.split()]
        out.append(record)
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_table(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def toml_table(values: dict[str, Any]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())  # JSON scalars are TOML


def write_config(folder: Path, name: str, data: dict[str, Any], *, model: str = "QuantumClassifier",
                 model_options: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> Path:
    """A tiny run config writing its run folder to ``folder/runs/<name>`` (a model option
    given as ``None`` is left out)."""
    path = folder / f"{name}.toml"
    path.write_text(
        f'[model]\nname = "{model}"\n'
        + toml_table({key: value for key, value in {
            "embedding_dim": 16, "num_states": NUM_STATES, "num_layers": 1, "num_heads": 2, "max_length": 32,
            **(model_options or {})}.items() if value is not None})
        + "\n[data]\n" + toml_table({"vocab_size": 120, "max_length": 32, "batch_size": 8, **data})
        + '\n[optimizer]\nname = "quantum"\nlr = 3e-3\n'
        + "\n[quantum]\nlog_every_n_steps = 1\n"
        + "\n[training]\n" + toml_table({"epochs": 1, "progress_bar": False, "loggers": [],
                                         "log_dir": str(folder / "runs" / "{name}"), **(training or {})}))
    return path


def train(config: Path) -> Path:
    assert main(["train", str(config)]) == 0
    run_dir = config.parent / "runs" / config.stem
    assert (run_dir / "model" / "config.json").is_file()
    return run_dir


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def assert_one_line_error(capsys: pytest.CaptureFixture[str], code: int, *parts: str) -> None:
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, err


def fresh_process(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python argv...`` in a new interpreter that imports this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the data files every run reads."""
    folder = tmp_path_factory.mktemp("data")
    write_table(folder / "train.csv", records())
    write_jsonl(folder / "train.jsonl", records(with_senses=True))
    write_table(folder / "train.tsv", records()[:20], "\t")
    write_table(folder / "val.tsv", records()[20:24], "\t")
    write_table(folder / "test.tsv", records()[24:], "\t")
    (folder / "corpus.txt").write_text("\n".join(text for text, _ in TEXTS) + "\n")
    return folder


@pytest.fixture(scope="module")
def csv_run(files: Path) -> Path:
    """A classifier trained on ``train.csv`` by ``qembed train`` (test split: 10% of the rows)."""
    return train(write_config(files, "reviews", {"train": str(files / "train.csv")}))


# --- qembed train on each kind of file ----------------------------------------------


def check_predictions(lines: list[dict[str, Any]], texts: list[str], run_dir: Path) -> None:
    """Each line: the text, its label among the run's labels, probabilities over the label
    names summing to 1, and one entry per token whose senses sum to 1."""
    tokenizer = TextTokenizer.load(run_dir / "model" / "tokenizer")
    names = list(LabelMap.load(run_dir / "model" / "labels.json").names)
    assert names == LABELS
    assert [line["text"] for line in lines] == texts
    for line, tokenized in zip(lines, tokenizer.encode(texts), strict=True):
        assert set(line) == {"text", "label", "probabilities", "uncertainty", "tokens"}
        assert list(line["probabilities"]) == names
        assert math.isclose(sum(line["probabilities"].values()), 1.0, abs_tol=1e-5)
        assert line["label"] == max(names, key=line["probabilities"].__getitem__)
        assert 0.0 <= line["uncertainty"] <= 1.0
        assert [token["token"] for token in line["tokens"]] == list(tokenized.tokens)
        for token in line["tokens"]:
            assert len(token["senses"]) == NUM_STATES and math.isclose(sum(token["senses"]), 1.0, abs_tol=1e-5)
            assert 0.0 <= token["uncertainty"] <= 1.0 + 1e-6


def test_a_csv_run_predicts_each_text_as_a_json_line(csv_run, capsys):
    capsys.readouterr()
    assert main(["predict", str(csv_run), *QUERIES]) == 0
    check_predictions(json_lines(capsys.readouterr().out), QUERIES, csv_run)


def test_predict_reads_a_txt_or_csv_input_and_writes_an_output_file(csv_run, files, tmp_path, capsys):
    (tmp_path / "texts.txt").write_text("\n".join(QUERIES) + "\n")
    write_table(tmp_path / "texts.csv", [{"id": str(i), "text": text} for i, text in enumerate(QUERIES)])
    for source in ("texts.txt", "texts.csv"):
        output = tmp_path / f"{source}.jsonl"
        assert main(["predict", str(csv_run), "--input", str(tmp_path / source), "-o", str(output)]) == 0
        assert capsys.readouterr().out == f"wrote {len(QUERIES)} predictions to {output}\n"
        check_predictions(json_lines(output.read_text()), QUERIES, csv_run)


@pytest.mark.slow
def test_the_run_folder_predicts_in_a_fresh_process_what_the_trained_model_predicted(files, tmp_path):
    """``qembed train``'s own path (prepare_run, train, save_model: what the train command runs),
    kept in process: the model object as trained predicts before its run folder is written, and
    ``qembed predict`` in a new interpreter, reading only the folder, must give the same lines.
    (Comparing two reloads of one folder could not catch a save that loses something; the
    Python test below covers ``save_pretrained`` called by hand, this one the run folder.)"""
    config = write_config(tmp_path, "inprocess", {"train": str(files / "train.csv")})
    prepared = prepare_run(load_run_config(config))
    prepared.train()
    as_trained = [p.to_dict() for p in Predictor(prepared.trainer.model, prepared.data.tokenizer,
                                                 prepared.data.labels, device="cpu").predict(QUERIES)]
    model_dir = prepared.save_model()
    assert model_dir == prepared.run_dir / "model"
    there = fresh_process("-m", "qembed", "predict", str(prepared.run_dir), *QUERIES, "--device", "cpu")
    assert json_lines(there.stdout) == as_trained  # exactly: JSON keeps every bit of a float


def test_evaluate_scores_the_runs_test_and_validation_splits(csv_run, capsys):
    capsys.readouterr()
    for split, argv in (("test", []), ("val", ["--split", "val"])):
        assert main(["evaluate", str(csv_run), *argv]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"the run's {split} split (3 examples):\n")
        written = json.loads((csv_run / f"metrics-{split}.json").read_text())
        assert {"accuracy", "loss", "nll", "ece", "brier", "uncertainty", "sense_entropy"} <= set(written)
        assert 0.0 <= written["accuracy"] <= 1.0
        assert "  accuracy" in out and f"wrote {csv_run / f'metrics-{split}.json'}" in out


def test_a_run_given_relative_paths_is_evaluated_and_resumed_from_another_folder(files, tmp_path, monkeypatch,
                                                                                 capsys):
    """The resolved config.yaml names the data by absolute path, so the run folder works from anywhere."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    write_table(work / "data" / "train.csv", records())
    monkeypatch.chdir(work)
    run_dir = train(write_config(work, "relative", {"train": "data/train.csv"}))
    assert load_run_config(run_dir / "config.yaml").data.corpus_options["train"] == str(work / "data" / "train.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(run_dir)]) == 0
    assert main(["train", str(run_dir / "config.yaml"), "--resume", str(run_dir), "--set", "training.epochs=2"]) == 0
    capsys.readouterr()


def test_evaluate_scores_another_file_and_names_a_label_the_model_does_not_know(csv_run, tmp_path, capsys):
    write_table(tmp_path / "other.csv", records()[:5])
    capsys.readouterr()
    assert main(["evaluate", str(csv_run), "--data", str(tmp_path / "other.csv"),
                 "-o", str(tmp_path / "scores.json")]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'other.csv'} (5 examples):\n")
    assert 0.0 <= json.loads((tmp_path / "scores.json").read_text())["accuracy"] <= 1.0
    write_table(tmp_path / "new.csv", [*records()[:2], {"text": "a recipe for bread", "label": "cooking"}])
    assert_one_line_error(capsys, main(["evaluate", str(csv_run), "--data", str(tmp_path / "new.csv")]),
                          "new.csv line 4: unknown label 'cooking'; the labels are 'animals', 'finance'")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_explain_writes_the_picture(csv_run, tmp_path, capsys, suffix):
    pytest.importorskip("matplotlib")
    image = tmp_path / f"senses{suffix}"
    assert main(["explain", str(csv_run), *QUERIES, "-o", str(image)]) == 0
    assert capsys.readouterr().out == f"wrote {image}\n"
    head = image.read_bytes()[:64]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else head.lstrip().startswith(b"<?xml")


def test_explain_draws_a_panel_of_tokens_by_senses_per_sentence(csv_run):
    pytest.importorskip("matplotlib")
    predictor = qembed.load(csv_run)
    figure = predictor.explain(QUERIES)
    panels = [axes for axes in figure.axes if axes.images]
    assert len(panels) == len(QUERIES)
    for axes, tokenized in zip(panels, predictor.tokenizer.encode(QUERIES), strict=True):
        assert axes.images[0].get_array().shape == (len(tokenized.tokens), NUM_STATES)


def test_json_lines_with_a_sense_field_train_and_keep_the_field(files, capsys):
    run_dir = train(write_config(files, "senses", {"train": str(files / "train.jsonl"), "sense_field": "senses"}))
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["data"]["sense_field"] == "senses"
    capsys.readouterr()
    assert main(["predict", str(run_dir), *QUERIES]) == 0
    check_predictions(json_lines(capsys.readouterr().out), QUERIES, run_dir)
    assert main(["evaluate", str(run_dir), "--data", str(files / "train.jsonl")]) == 0  # reads the senses too


def test_a_tsv_with_validation_and_test_files_uses_them_as_the_splits(files, capsys):
    run_dir = train(write_config(files, "tsv", {"train": str(files / "train.tsv"), "validation": str(files / "val.tsv"),
                                                "test": str(files / "test.tsv")}))
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 0
    assert capsys.readouterr().out.startswith("the run's test split (6 examples):")
    assert main(["evaluate", str(run_dir), "--split", "val"]) == 0
    assert capsys.readouterr().out.startswith("the run's val split (4 examples):")


def test_a_saved_datasets_folder_gives_its_splits(files, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_list(records())
    datasets.DatasetDict({"train": dataset.select(range(20)), "validation": dataset.select(range(20, 22)),
                          "test": dataset.select(range(22, 30))}).save_to_disk(str(tmp_path / "reviews"))
    run_dir = train(write_config(tmp_path, "hf", {"train": str(tmp_path / "reviews")}))
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 0
    assert capsys.readouterr().out.startswith("the run's test split (8 examples):")
    assert main(["predict", str(run_dir), *QUERIES]) == 0
    check_predictions(json_lines(capsys.readouterr().out), QUERIES, run_dir)
    assert main(["evaluate", str(run_dir), "--data", str(tmp_path / "reviews"), "--split", "val"]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'reviews'} (validation split) (2 examples):")
    assert_one_line_error(capsys, main(["evaluate", str(run_dir), "--data", str(files / "train.csv"),
                                        "--split", "val"]), "--split val: ", "is one table")


# --- the Python API: predictions survive save and reload ---------------------------


FRESH_PREDICT = """
import json, sys
import qembed
predictions = qembed.load(sys.argv[1], device="cpu").predict(json.loads(sys.argv[2]))
print(json.dumps([prediction.to_dict() for prediction in predictions]))
"""


@pytest.mark.slow
def test_a_model_trained_in_python_predicts_the_same_after_a_reload_in_a_fresh_process(files, tmp_path):
    corpus = TextCorpus(files / "train.csv", vocab_size=120, max_length=32)
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_states=NUM_STATES,
                              num_heads=2, num_layers=1, max_length=corpus.max_sequence_length)
    trainer = QuantumTrainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), None, {"log_every_n_steps": 1},
                             progress_bar=False, epoch_table=False, device="cpu")
    train_loader, val_loader, _ = corpus.loaders(batch_size=8)
    trainer.train(train_loader, val_loader, num_epochs=1)
    before = [p.to_dict() for p in Predictor(model, corpus.tokenizer, corpus.labels, device="cpu").predict(QUERIES)]
    model.save_pretrained(tmp_path / "model", tokenizer=corpus.tokenizer, labels=corpus.labels,
                          data_options=corpus.options)
    after = json.loads(fresh_process("-c", textwrap.dedent(FRESH_PREDICT), str(tmp_path / "model"),
                                     json.dumps(QUERIES)).stdout)
    assert after == before  # probabilities exactly equal: JSON keeps every bit of a float
    assert [p["label"] for p in after] == [p.label for p in qembed.load(tmp_path / "model").predict(QUERIES)]


# --- masked-LM pre-training on raw text, then fine-tuning --------------------------


@pytest.fixture(scope="module")
def mlm_run(files: Path) -> Path:
    """A QuantumMaskedLM pre-trained by ``qembed train`` on ``corpus.txt``."""
    return train(write_config(files, "pretrain", {"train": str(files / "corpus.txt")}, model="QuantumMaskedLM"))


def test_a_masked_lm_pretrained_on_a_text_file_starts_a_classifier(mlm_run, files, tmp_path):
    tokenizer = mlm_run / "model" / "tokenizer"
    config = write_config(tmp_path, "finetune", {"train": str(files / "train.csv"), "tokenizer": str(tokenizer)},
                          model_options={"encoder_from": str(mlm_run)})
    prepared = prepare_run(load_run_config(config))
    assert not (tmp_path / "runs").exists()
    pretrained = QuantumMaskedLM.from_pretrained(mlm_run).encoder.state_dict()
    encoder = prepared.trainer.model.encoder.state_dict()
    assert encoder.keys() == pretrained.keys()
    assert all(torch.equal(value.cpu(), pretrained[key]) for key, value in encoder.items())
    assert prepared.data.tokenizer.encode(QUERIES) == TextTokenizer.load(tokenizer).encode(QUERIES)
    run_dir = train(config)
    assert (run_dir / "model" / "labels.json").is_file()


def test_a_masked_lm_run_scores_its_validation_split_and_resumes(mlm_run, files, capsys):
    """Its resolved config (label_field = null) reads back."""
    capsys.readouterr()
    assert main(["evaluate", str(mlm_run), "--split", "val"]) == 0
    assert capsys.readouterr().out.startswith("the run's val split")
    assert_one_line_error(capsys, main(["evaluate", str(mlm_run)]),
                          "the run's data has no test split to score (a masked LM has none: --split val)")
    assert main(["evaluate", str(mlm_run), "--data", str(files / "corpus.txt")]) == 0  # masked as in training
    scored = json.loads((mlm_run / "metrics-data-corpus.json").read_text())
    assert 0.0 <= scored["accuracy"] <= 1.0 and scored["loss"] > 0
    assert load_run_config(mlm_run / "config.yaml").data.corpus_options["test_fraction"] == 0.0  # no row held back
    assert load_run_config(mlm_run / "config.yaml").data.corpus_options["label_field"] is None
    assert main(["train", str(mlm_run / "config.yaml"), "--resume", str(mlm_run), "--set", "training.epochs=2"]) == 0
    assert safe_load(mlm_run / "checkpoints" / "last.pth")["epoch"] == 2


def test_fine_tuning_refuses_a_new_tokenizer_a_missing_or_unfit_encoder_and_a_classical_model(
        mlm_run, files, tmp_path, capsys):
    tokenizer = mlm_run / "model" / "tokenizer"
    without = write_config(tmp_path, "no_tokenizer", {"train": str(files / "train.csv")},
                           model_options={"encoder_from": str(mlm_run)})
    assert_one_line_error(capsys, main(["train", str(without)]),
                          f"set [data] tokenizer = {str(tokenizer)!r}")
    nowhere = write_config(tmp_path, "nowhere", {"train": str(files / "train.csv")},
                           model_options={"encoder_from": str(tmp_path / "nowhere")})
    assert_one_line_error(capsys, main(["train", str(nowhere)]),
                          f"[model] encoder_from = {str(tmp_path / 'nowhere')!r}: no checkpoint file at")
    shape = write_config(tmp_path, "shape", {"train": str(files / "train.csv"), "tokenizer": str(tokenizer)},
                         model_options={"encoder_from": str(mlm_run), "num_states": 3})
    assert_one_line_error(capsys, main(["train", str(shape)]), f"[model] encoder_from = {str(mlm_run)!r}: the encoder "
                          f"in {str(mlm_run)!r} does not fit this model; different shapes: embeddings.sense_amplitudes")
    classical = write_config(tmp_path, "classical", {"train": str(files / "train.csv")}, model="ClassicalClassifier",
                             model_options={"encoder_from": str(mlm_run), "num_states": None})
    assert_one_line_error(capsys, main(["train", str(classical)]),
                          "encoder_from: ClassicalClassifier has no quantum encoder to start from")
    assert not (tmp_path / "runs").exists()


# --- --resume keeps the run's tokenizer ----------------------------------------------


def test_resume_reads_the_saved_wordpiece_tokenizer_instead_of_training_one(files, tmp_path):
    config = write_config(tmp_path, "resumed", {"train": str(files / "train.csv"), "tokenizer": "wordpiece"},
                          training={"epochs": 2, "max_steps": 2})
    run_dir = train(config)
    saved = run_dir / "model" / "tokenizer"
    # swap two words' ids in the saved vocabulary: a tokenizer trained again would not have them
    settings = json.loads((saved / "tokenizer.json").read_text())
    vocab = settings["model"]["vocab"]
    vocab["bank"], vocab["river"] = vocab["river"], vocab["bank"]
    (saved / "tokenizer.json").write_text(json.dumps(settings))
    files_before = {path.name: json.loads(path.read_text()) for path in saved.iterdir()}
    resumed = run_dir / "config.yaml"
    prepared = prepare_run(load_run_config(resumed, {"training.max_steps": 6}), resume=run_dir)
    assert prepared.data.tokenizer.encode(["bank river"])[0].ids == (vocab["bank"], vocab["river"])
    assert main(["train", str(resumed), "--resume", str(run_dir), "--set", "training.max_steps=6"]) == 0
    assert {path.name: json.loads(path.read_text()) for path in saved.iterdir()} == files_before
    assert safe_load(run_dir / "checkpoints" / "last.pth")["global_step"] == 6
    assert qembed.load(run_dir).tokenizer.encode(["bank"])[0].ids == (vocab["bank"],)


# --- bad input: one line, exit code 2, no run folder --------------------------------


def broken_tokenizer(folder: Path) -> str:
    (folder / "tok").mkdir()
    (folder / "tok" / "qembed_tokenizer.json").write_text("{not json")
    return str(folder / "tok")


def empty_text(folder: Path) -> str:
    write_table(folder / "gaps.csv", [*records()[:3], {"text": "  ", "label": "finance"}, *records()[3:6]])
    return str(folder / "gaps.csv")


@pytest.mark.parametrize(("data", "model", "expected"), [
    (lambda f, d: {"train": str(f / "missing.csv")}, "QuantumClassifier",
     ["bad.toml: [data] data file", "missing.csv' does not exist"]),
    (lambda f, d: {"train": str(d / "train.csv"), "text_field": "txt"}, "QuantumClassifier",
     ["has no field 'txt' (did you mean 'text'?); its fields: 'text', 'label'"]),
    (lambda f, d: {"train": empty_text(f)}, "QuantumClassifier", ["gaps.csv line 5: 'text' is an empty text"]),
    (lambda f, d: {"train": str(d / "train.csv"), "text_feild": "text"}, "QuantumClassifier",
     ["[data] unknown key 'text_feild' (did you mean 'text_field'?); known keys: train, validation, test, format, "
      "text_field, label_field, sense_field"]),
    (lambda f, d: {"train": str(d / "train.csv"), "corpus": "polysemy"}, "QuantumClassifier",
     ["give one of corpus, train (your text files) and module, not corpus and train"]),
    (lambda f, d: {"train": str(d / "corpus.txt"), "label_field": "label"}, "QuantumMaskedLM",
     ["label_field: QuantumMaskedLM learns from masked tokens, not labels; leave it out"]),
    (lambda f, d: {"train": str(d / "train.csv"), "tokenizer": broken_tokenizer(f)}, "QuantumClassifier",
     ["[data] tokenizer folder", "tok' does not load"]),
])
def test_bad_data_is_refused_on_one_line_before_a_run_folder_is_written(files, tmp_path, capsys, data, model,
                                                                        expected):
    config = write_config(tmp_path, "bad", data(tmp_path, files), model=model)
    assert_one_line_error(capsys, main(["train", str(config)]), *expected)
    assert not (tmp_path / "runs").exists()


def test_a_folder_without_a_tokenizer_that_loads_is_named(files, tmp_path, capsys):
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "vocab.txt").write_text("[PAD]\n")
    config = write_config(tmp_path, "bad", {"train": str(files / "train.csv"), "tokenizer": str(tmp_path / "tok")})
    assert_one_line_error(capsys, main(["train", str(config)]), f"tokenizer folder {str(tmp_path / 'tok')!r} "
                                                                 "does not load")
    assert not (tmp_path / "runs").exists()


def test_bad_command_lines_are_refused_on_one_line(csv_run, tmp_path, capsys):
    run = str(csv_run)
    assert_one_line_error(capsys, main(["predict", run]), "give at least one TEXT, or --input FILE")
    assert_one_line_error(capsys, main(["predict", run, "a text", "--input", "texts.txt"]),
                          "give the texts either as arguments or with --input FILE, not both")
    assert_one_line_error(capsys, main(["explain", run, "a text", "-o", str(tmp_path / "x.jpg")]),
                          "x.jpg: write a .png or .svg file")
    assert not (tmp_path / "x.jpg").exists()
    (tmp_path / "empty").mkdir()
    assert_one_line_error(capsys, main(["predict", str(tmp_path / "empty"), "a text"]),
                          "is neither a model folder (no config.json) nor a run folder (no model/config.json, "
                          "no config.yaml)")
    assert_one_line_error(capsys, main(["predict", str(tmp_path / "nowhere"), "a text"]),
                          "no model folder, run folder or weights file at")
    assert_one_line_error(capsys, main(["evaluate", str(csv_run / "model")]),
                          "has no config.yaml to rebuild its data from: give --data FILE")


# --- scoring and reloading stay faithful to the run --------------------------------


def test_evaluate_maps_labels_with_the_runs_saved_label_map(files, tmp_path, capsys):
    """A label renamed in the train file after training is refused, never silently scored as another class."""
    write_table(tmp_path / "train.csv", records())
    run_dir = train(write_config(tmp_path, "labels", {"train": str(tmp_path / "train.csv")}))
    assert LabelMap.load(run_dir / "model" / "labels.json").names == tuple(LABELS)
    renamed = [{**row, "label": "a_nature" if row["label"] == "nature" else row["label"]} for row in records()]
    write_table(tmp_path / "train.csv", renamed)
    capsys.readouterr()
    assert_one_line_error(capsys, main(["evaluate", str(run_dir)]), "unknown label 'a_nature'")


def test_evaluate_scores_a_run_configured_for_distributed_training_in_one_process(csv_run, tmp_path, capsys):
    import yaml

    config = yaml.safe_load((csv_run / "config.yaml").read_text())
    config["quantum"].update(distributed_training=True, quantum_sync=True, entanglement_sync=True)
    copy = tmp_path / "distributed"
    copy.mkdir()
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    (copy / "model").symlink_to(csv_run / "model")
    capsys.readouterr()
    assert main(["evaluate", str(copy)]) == 0
    assert capsys.readouterr().out.startswith("the run's test split (3 examples):")


def test_a_run_stopped_before_its_model_was_saved_says_so(csv_run, tmp_path, capsys):
    stopped = tmp_path / "stopped"
    (stopped / "model").mkdir(parents=True)
    (stopped / "config.yaml").write_text((csv_run / "config.yaml").read_text())
    TextTokenizer.load(csv_run / "model" / "tokenizer").save(stopped / "model" / "tokenizer")
    assert_one_line_error(capsys, main(["predict", str(stopped), "the bank"]),
                          "holds no trained model yet", f"--resume {stopped}")


def test_fine_tuning_takes_a_copy_of_the_tokenizer_and_resumes_without_the_pretrained_folder(
        mlm_run, files, tmp_path):
    copied = tmp_path / "copied_tokenizer"
    TextTokenizer.load(mlm_run / "model" / "tokenizer").save(copied)
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    (pretrained / "model").symlink_to(mlm_run / "model")
    (tmp_path / "sub").mkdir()
    dotted = tmp_path / "sub" / ".." / "copied_tokenizer"
    for tokenizer in (copied, dotted):
        config = write_config(tmp_path, "finetune", {"train": str(files / "train.csv"), "tokenizer": str(tokenizer)},
                              model_options={"encoder_from": str(pretrained)}, training={"max_steps": 2})
        prepare_run(load_run_config(config))  # accepted: the same tokenizer
    run_dir = train(config)
    (pretrained / "model").unlink()  # the pre-trained model is gone: a resume needs only its checkpoint
    assert main(["train", str(run_dir / "config.yaml"), "--resume", str(run_dir),
                 "--set", "training.max_steps=3"]) == 0


def test_a_saved_model_refuses_a_label_map_or_tokenizer_that_does_not_fit(tmp_path):
    tokenizer = TextTokenizer.train([text for text, _ in TEXTS], vocab_size=120)
    model = QuantumClassifier(tokenizer.vocab_size - 1, 2, embedding_dim=16, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match=r"the label map holds 3 labels, but the model predicts 2 classes"):
        model.save_pretrained(tmp_path / "m", labels=LabelMap(["x", "y", "z"]))
    with pytest.raises(ValueError, match=rf"the tokenizer gives ids up to {tokenizer.vocab_size - 1}, but the "
                                         rf"model's vocab_size is {tokenizer.vocab_size - 1}"):
        model.save_pretrained(tmp_path / "m", tokenizer=tokenizer)
    assert not (tmp_path / "m").exists()
    with pytest.raises(ValueError, match="the label map holds 3 labels, but the model predicts 2 classes"):
        fitting = QuantumClassifier(tokenizer.vocab_size, 2, embedding_dim=16, num_layers=1, num_heads=2)
        Predictor(fitting, tokenizer, LabelMap(["x", "y", "z"])).predict(QUERIES)


def test_predict_checks_its_batch_size_and_creates_the_output_folder(csv_run, tmp_path, capsys):
    predictor = qembed.load(csv_run)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        predictor.predict(QUERIES, batch_size=0)
    output = tmp_path / "new" / "folder" / "out.jsonl"
    assert main(["predict", str(csv_run), *QUERIES, "-o", str(output)]) == 0
    assert len(json_lines(output.read_text())) == len(QUERIES)


def test_a_classical_model_reports_no_token_senses(files, tmp_path):
    corpus = TextCorpus(str(files / "train.csv"), vocab_size=120, max_length=32)
    model = ClassicalClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_layers=1, num_heads=2)
    [prediction] = Predictor(model, corpus.tokenizer, corpus.labels).predict(QUERIES[:1])
    assert all(token.senses == () and token.uncertainty is None for token in prediction.tokens)
    assert prediction.to_dict()["tokens"][0] == {"token": "the", "senses": [], "uncertainty": None}


def test_the_demo_skips_its_picture_without_matplotlib(csv_run, monkeypatch, capsys):
    """The run is trained and saved by then: a missing plot extra costs the picture, not the exit code."""
    from qembed.cli import demo_command

    for name in [name for name in sys.modules if name == "qembed.plotting" or name.startswith("qembed.plotting.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    demo_command.draw_senses(csv_run)
    assert capsys.readouterr().out.startswith("senses:     not drawn: plotting needs matplotlib")
    assert not (csv_run / demo_command.SENSES_FILE).exists()
