"""A saved model folder (qembed.models.pretrained): save, reload in a fresh process with
bitwise-equal outputs, on a device; bad folders refused by name; weights files and run
folders written before model folders still load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed import plugins
from qembed.cli import main
from qembed.data import PolysemyCorpus
from qembed.models import (ClassicalClassifier, PretrainedModel, QuantumClassifier, QuantumMaskedLM,
                           load_pretrained, records_init_options)
from qembed.models.pretrained import CONFIG_FILE, WEIGHTS_FILE, read_config
from qembed.nn import set_collapse_probability
from qembed.training import QuantumTrainer
from qembed.training.checkpoint_io import CheckpointIntegrityError, load_model_state
from tests.conftest import REPO_ROOT

VOCAB, LABELS = 30, 3
SMALL = {"embedding_dim": 8, "num_heads": 2, "num_layers": 1, "max_length": 16}
MODELS = {
    "QuantumClassifier": lambda: QuantumClassifier(VOCAB, LABELS, num_states=3, **SMALL),
    "QuantumMaskedLM": lambda: QuantumMaskedLM(VOCAB, num_states=2, entanglement="sparse", top_k=3, **SMALL),
    "ClassicalClassifier": lambda: ClassicalClassifier(VOCAB, LABELS, **SMALL),
}


def built(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = MODELS[name]()
    set_collapse_probability(model, 0.6)  # a buffer the folder must keep (evaluation mixes by it)
    return model.eval()


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, VOCAB, (3, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 4:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def outputs(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(**batch())
    return {key: out[key] for key in ("logits", "uncertainty", "sense_probabilities") if key in out.keys()}


FRESH = """
import sys, torch
from tests.test_pretrained import outputs
from qembed.models import {name}
model = {name}.from_pretrained(sys.argv[1])
assert not model.training
torch.save(outputs(model), sys.argv[2])
"""


def in_a_fresh_process(code: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# --- save and reload ------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_a_saved_model_reloads_in_a_fresh_process_with_bitwise_equal_outputs(name, tmp_path):
    model = built(name)
    folder = model.save_pretrained(tmp_path / "model", data_options={"text_field": "text"})
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    config = read_config(folder)
    assert (config["model_class"], config["options"], config["data"]) == (name, model.init_options,
                                                                          {"text_field": "text"})
    assert config["tokenizer"] is None and config["labels"] is None and config["version"] == 2
    in_a_fresh_process(FRESH.format(name=name), str(folder), str(tmp_path / "out.pt"))
    again = torch.load(tmp_path / "out.pt", weights_only=True)
    expected = outputs(model)
    assert again.keys() == expected.keys()
    assert all(torch.equal(again[key], expected[key]) for key in expected)


def test_init_options_are_every_constructor_argument_and_rebuild_the_model():
    model = QuantumClassifier(VOCAB, LABELS, 8, 2, num_heads=2, collapse_strategy={"name": "gumbel", "temperature": 2.0})
    options = model.init_options
    assert options["embedding_dim"] == 8 and options["num_states"] == 2 and options["dropout"] == 0.1
    assert options["collapse_strategy"] == {"name": "gumbel", "temperature": 2.0}
    assert QuantumClassifier(**options).init_options == options
    assert ClassicalClassifier(VOCAB, LABELS, 8, num_heads=2).init_options == {
        "vocab_size": VOCAB, "num_labels": LABELS, "embedding_dim": 8, "num_layers": 3, "num_heads": 2,
        "max_length": 512, "dropout": 0.1, "attention_dropout": None, "activation_dropout": None}


@settings(max_examples=8)
@given(num_states=st.integers(1, 3), entanglement=st.sampled_from(["dense", "sparse", "none"]),
       contextual=st.booleans(), eval_collapse=st.sampled_from([True, False, "expected"]),
       context_window=st.none() | st.integers(1, 4))
def test_any_options_round_trip_through_a_folder(tmp_path_factory, num_states, entanglement, contextual,
                                                  eval_collapse, context_window):
    model = QuantumMaskedLM(VOCAB, num_states=num_states, entanglement=entanglement, top_k=2, contextual=contextual,
                            eval_collapse=eval_collapse, context_window=context_window, **SMALL)
    folder = model.save_pretrained(tmp_path_factory.mktemp("model"))
    again = QuantumMaskedLM.from_pretrained(folder)
    assert again.init_options == model.init_options
    state = model.state_dict()
    assert all(torch.equal(value, state[key]) for key, value in again.state_dict().items())


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"),
                                    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                                  reason="no CUDA device"))])
def test_a_model_loads_onto_the_device_asked_for(device, tmp_path):
    model = built("QuantumClassifier")
    folder = model.save_pretrained(tmp_path / "model")
    again = QuantumClassifier.from_pretrained(folder, device=device)
    assert {p.device.type for p in [*again.parameters(), *again.buffers()]} == {torch.device(device).type}
    with torch.no_grad():
        logits = again(**{key: value.to(device) for key, value in batch().items()}).logits.cpu()
    assert torch.allclose(logits, outputs(model)["logits"], atol=1e-5)


def test_the_default_device_is_the_cpu_and_an_unavailable_one_is_named(tmp_path):
    folder = built("ClassicalClassifier").save_pretrained(tmp_path / "model")
    assert {p.device.type for p in ClassicalClassifier.from_pretrained(folder).parameters()} == {"cpu"}
    with pytest.raises(ValueError, match="device 'tpu9'"):
        ClassicalClassifier.from_pretrained(folder, device="tpu9")


def test_tied_weights_are_written_once_and_reload_equal(tmp_path):
    model = ClassicalClassifier(VOCAB, LABELS, embedding_dim=8, num_heads=2, num_layers=1, max_length=VOCAB)
    model.positions.weight = model.embeddings.weight
    model.save_pretrained(tmp_path / "model")
    raw = (tmp_path / "model" / WEIGHTS_FILE).read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])
    assert "positions.weight" not in header and "embeddings.weight" in header
    again = ClassicalClassifier.from_pretrained(tmp_path / "model")
    assert torch.equal(again.positions.weight, model.embeddings.weight)
    assert torch.equal(again.embeddings.weight, model.embeddings.weight)


def test_a_half_precision_model_reloads_in_its_dtype(tmp_path):
    model = built("QuantumClassifier").to(torch.bfloat16)
    again = QuantumClassifier.from_pretrained(model.save_pretrained(tmp_path / "model"))
    assert {p.dtype for p in again.parameters()} == {torch.bfloat16}
    assert all(torch.equal(value, model.state_dict()[key]) for key, value in again.state_dict().items())


def test_a_run_folder_loads_through_its_model_folder(tmp_path):
    model = built("QuantumClassifier")
    model.save_pretrained(tmp_path / "run" / "model")
    for path in (tmp_path / "run", tmp_path / "run" / "model" / CONFIG_FILE, tmp_path / "run" / "model" / WEIGHTS_FILE):
        assert torch.equal(outputs(QuantumClassifier.from_pretrained(path))["logits"], outputs(model)["logits"])
    loaded = load_pretrained(tmp_path / "run")
    assert type(loaded.model) is QuantumClassifier and loaded[1:] == (None, None, {})


class Wider(QuantumClassifier):
    """A model of another module, named ``tests.test_pretrained:Wider`` in config.json."""


def test_a_model_class_of_another_module_is_named_by_module_and_reloaded(tmp_path):
    torch.manual_seed(0)
    model = Wider(VOCAB, LABELS, **SMALL).eval()
    folder = model.save_pretrained(tmp_path / "model")
    assert read_config(folder)["model_class"] == "tests.test_pretrained:Wider"
    loaded = load_pretrained(folder)
    assert type(loaded.model) is Wider
    assert torch.equal(loaded.model(**batch()).logits, model(**batch()).logits)


def test_load_encoder_takes_a_pretrained_masked_lm_folder_to_fine_tune_a_classifier(tmp_path):
    pretrained = built("QuantumMaskedLM")
    pretrained.save_pretrained(tmp_path / "run" / "model")
    torch.manual_seed(5)
    classifier = QuantumClassifier(VOCAB, LABELS, num_states=2, entanglement="sparse", top_k=3, **SMALL)
    head = classifier.head.weight.clone()
    for path in (tmp_path / "run" / "model", tmp_path / "run"):
        classifier.load_encoder(path)
        assert all(torch.equal(value, pretrained.encoder.state_dict()[key])
                   for key, value in classifier.encoder.state_dict().items())
        assert torch.equal(classifier.head.weight, head)
    mismatched = QuantumClassifier(VOCAB, LABELS, num_states=3, **SMALL)
    with pytest.raises(ValueError, match="sense_amplitudes"):
        mismatched.load_encoder(tmp_path / "run")


# --- refused ------------------------------------------------------------------------


def test_an_option_that_is_not_json_is_refused_by_name_before_anything_is_written(tmp_path):
    model = QuantumClassifier(VOCAB, LABELS, collapse_strategy=plugins.create("collapse", "argmax"), **SMALL)
    with pytest.raises(TypeError, match=r"option collapse_strategy=.* is not JSON data"):
        model.save_pretrained(tmp_path / "model")
    with pytest.raises(TypeError, match=r"data option fields=\('text',\) is not JSON data"):
        built("QuantumClassifier").save_pretrained(tmp_path / "model", data_options={"fields": ("text",)})
    assert not (tmp_path / "model").exists()


def test_a_model_that_records_no_options_or_cannot_be_imported_is_refused(tmp_path):
    class Unrecorded(ClassicalClassifier):
        def __init__(self) -> None:
            super().__init__(VOCAB, LABELS, **SMALL)

    with pytest.raises(TypeError, match="Unrecorded did not record its constructor arguments"):
        Unrecorded().save_pretrained(tmp_path / "model")

    class Local(ClassicalClassifier):
        pass

    with pytest.raises(TypeError, match="defined in .* inside a function cannot be imported"):
        Local(VOCAB, LABELS, **SMALL).save_pretrained(tmp_path / "model")
    with pytest.raises(TypeError, match=r"must take named arguments only"):
        records_init_options(lambda self, *sizes: None)
    assert not (tmp_path / "model").exists()


@pytest.fixture
def folder(tmp_path) -> Path:
    return built("QuantumClassifier").save_pretrained(tmp_path / "model")


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**config, **changes}))


@pytest.mark.parametrize(("model_class", "message"), [
    ("QuantumClassifer", r"unknown model_class 'QuantumClassifer' \(did you mean 'QuantumClassifier'.*\?\); "
                         r"qembed's models: ClassicalClassifier, QuantumClassifier, QuantumMaskedLM, or 'module:Class'"),
    ("QuantumEncoder", "unknown model_class 'QuantumEncoder'"),
    ("no_such_module:Model", r"model_class 'no_such_module:Model': its module cannot be imported"),
    ("json:JSONDecoder", r"json has no nn.Module class 'JSONDecoder'"),
])
def test_an_unknown_model_class_is_refused(folder, model_class, message):
    edit_config(folder, model_class=model_class)
    with pytest.raises(ValueError, match=message):
        load_pretrained(folder)


def test_a_model_of_another_class_is_refused_naming_both(folder):
    with pytest.raises(TypeError, match="holds a QuantumClassifier, not a QuantumMaskedLM"):
        QuantumMaskedLM.from_pretrained(folder)
    assert type(PretrainedModel.from_pretrained(folder)) is QuantumClassifier


def test_bad_options_in_config_json_are_named(folder):
    edit_config(folder, options={**read_config(folder)["options"], "embedding_dims": 8})
    with pytest.raises(ValueError, match=r"takes no option 'embedding_dims' \(did you mean 'embedding_dim'\?\)"):
        load_pretrained(folder)
    options = read_config(folder)["options"]
    del options["embedding_dims"], options["num_labels"]
    edit_config(folder, options=options)
    with pytest.raises(ValueError, match="QuantumClassifier needs num_labels"):
        load_pretrained(folder)


def test_keyword_options_are_refused_for_a_folder_that_records_them(folder):
    with pytest.raises(TypeError, match=r"records the model's options; keyword options \(num_labels\)"):
        QuantumClassifier.from_pretrained(folder, num_labels=4)


def damage_weights(folder: Path) -> None:
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[-5] ^= 0xFF
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))


def truncate_weights(folder: Path) -> None:
    (folder / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes()[:100])


@pytest.mark.parametrize(("damage", "error", "message"), [
    (damage_weights, CheckpointIntegrityError, r"model\.safetensors' is corrupted: its sha256 does not match"),
    (truncate_weights, CheckpointIntegrityError, r"model\.safetensors' is corrupted"),
    (lambda f: (f / WEIGHTS_FILE).unlink(), FileNotFoundError, "has no model.safetensors: it is incomplete"),
    (lambda f: (f / CONFIG_FILE).write_text("{ not json"), ValueError, r"config\.json' is not valid JSON"),
    (lambda f: (f / CONFIG_FILE).unlink(), ValueError, r"neither a model folder \(no config\.json\)"),
    (lambda f: edit_config(f, format="hf"), ValueError, "is not a qembed model config"),
    (lambda f: edit_config(f, version=3), ValueError, "format version 3; this qembed .* reads version 2"),
    (lambda f: edit_config(f, options=None), ValueError, "its 'options' is missing or not a dict"),
    (lambda f: edit_config(f, tokenizer="../elsewhere"), ValueError, "its 'tokenizer' must be 'tokenizer' or null"),
])
def test_a_damaged_or_incomplete_folder_is_refused_naming_the_file(folder, damage, error, message):
    damage(folder)
    with pytest.raises(error, match=message):
        QuantumClassifier.from_pretrained(folder)


def test_a_part_config_json_names_but_the_folder_lacks_is_named(folder):
    edit_config(folder, labels="labels.json")
    assert type(QuantumClassifier.from_pretrained(folder)) is QuantumClassifier  # the model alone needs no labels
    with pytest.raises(FileNotFoundError, match="has no labels.json, which its config.json names"):
        load_pretrained(folder)


def test_a_file_with_a_matching_checksum_that_is_not_safetensors_is_named(folder):
    import hashlib

    (folder / WEIGHTS_FILE).write_bytes(b"not a safetensors file")
    edit_config(folder, weights_sha256=hashlib.sha256(b"not a safetensors file").hexdigest())
    with pytest.raises(ValueError, match="is not a safetensors file qembed can read"):
        QuantumClassifier.from_pretrained(folder)


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model folder, run folder or weights file at"):
        load_pretrained(tmp_path / "nowhere")


# --- saved before model folders -------------------------------------------------------


def test_a_legacy_best_model_file_loads_with_its_options_and_says_what_is_missing_without(tmp_path):
    model = built("QuantumClassifier")
    trainer = QuantumTrainer(model, "quantum", progress_bar=False)
    path = trainer.save_model(tmp_path / "best_model.pth")
    model.eval()
    with pytest.raises(ValueError, match=r"holds weights only .* no model class, constructor options, tokenizer "
                                         r"or label map\. Give the options QuantumClassifier needs: .*"
                                         r"vocab_size=\.\.\., num_labels=\.\.\."):
        QuantumClassifier.from_pretrained(path)
    with pytest.raises(ValueError, match=r"records no model class.*Load it with the class it was trained as"):
        load_pretrained(path)
    with pytest.raises(ValueError, match=r"different shapes: .* give the options it was trained with"):
        QuantumClassifier.from_pretrained(path, vocab_size=VOCAB, num_labels=LABELS)
    with pytest.raises(ValueError, match=r"takes no option 'num_label' \(did you mean 'num_labels'"):
        QuantumClassifier.from_pretrained(path, vocab_size=VOCAB, num_label=LABELS)
    again = QuantumClassifier.from_pretrained(path, vocab_size=VOCAB, num_labels=LABELS, num_states=3, **SMALL)
    assert not again.training and torch.equal(outputs(again)["logits"], outputs(model)["logits"])

    checkpoint = trainer.save_checkpoint(tmp_path / "last.pth")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    for legacy in (checkpoint, tmp_path / "state.pt"):
        again = QuantumClassifier.from_pretrained(legacy, vocab_size=VOCAB, num_labels=LABELS, num_states=3, **SMALL)
        assert torch.equal(outputs(again)["logits"], outputs(model)["logits"])


TINY_RUN = """\
[model]
name = "QuantumClassifier"
embedding_dim = 8
num_states = 2
num_layers = 0
num_heads = 2
max_length = 32

[data]
num_train = 16
num_val = 8
num_test = 0
batch_size = 8

[optimizer]
name = "adamw"
lr = 1e-2

[quantum]
log_every_n_steps = 1

[training]
epochs = 1
progress_bar = false
save_best_model = {save_best}
log_dir = "runs/{{name}}"
"""


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory) -> Path:
    """Two real ``qembed train`` runs (one with ``best_model.pth``) with their model folder
    removed: run folders as qembed wrote them before model folders."""
    workdir = tmp_path_factory.mktemp("runs")
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        for save_best in ("false", "true"):
            (workdir / f"best_{save_best}.toml").write_text(TINY_RUN.format(save_best=save_best))
            assert main(["train", f"best_{save_best}.toml"]) == 0
    finally:
        os.chdir(cwd)
    for run in (workdir / "runs").iterdir():
        assert (run / "model" / "config.json").is_file()  # what `qembed train` writes now
        shutil.rmtree(run / "model")
    return workdir / "runs"


def run_model(run: Path, weights: str) -> QuantumClassifier:
    corpus = PolysemyCorpus(num_train=16, num_val=8, num_test=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, 8, 2, 0, 2, 32)
    model.load_state_dict(load_model_state(run / weights))
    return model.eval()


@pytest.mark.parametrize(("run", "weights"), [("best_false", "checkpoints/last.pth"),
                                              ("best_true", "best_model.pth")])
def test_a_legacy_run_folder_is_rebuilt_from_its_config_with_a_warning(legacy_runs, run, weights):
    with pytest.warns(UserWarning, match=(r"written before qembed saved model folders; rebuilt QuantumClassifier and "
                                          r"its options from config.yaml \[model\]; vocab_size, num_labels from its "
                                          rf"\[data\] polysemy corpus; the weights of {weights}")):
        model = QuantumClassifier.from_pretrained(legacy_runs / run)
    ids = torch.randint(0, model.encoder.embeddings.vocab_size, (2, 6), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(ids).logits, run_model(legacy_runs / run, weights)(ids).logits)


def test_a_legacy_run_folder_that_does_not_say_enough_is_refused(legacy_runs, tmp_path):
    import shutil
    import yaml

    run = Path(shutil.copytree(legacy_runs / "best_false", tmp_path / "run"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"] = {"module": "my_data.py"}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"does not say enough to rebuild the model: \[model\] lacks vocab_size, "
                                         r"num_labels .* QuantumClassifier\.from_pretrained\(\.\.\., vocab_size=\.\.\."):
        QuantumClassifier.from_pretrained(run)
    with pytest.raises(TypeError, match="keyword options .* are for a weights file"):
        QuantumClassifier.from_pretrained(run, vocab_size=10)
    (run / "checkpoints" / "last.pth").unlink()
    with pytest.raises(FileNotFoundError, match="holds no model: no model/ folder, no best_model.pth nor "
                                                "checkpoints/last.pth"):
        QuantumClassifier.from_pretrained(run)


# --- with a tokenizer and a label map (qembed.data.tokenizer, .label_map) -----------------


def test_a_folder_with_its_tokenizer_and_label_map_reloads_them(tmp_path):
    from qembed.data.label_map import LabelMap
    from qembed.data.tokenizer import TextTokenizer

    texts = ["the bank by the river", "the bank lends money", "a bat flies at night"]
    tokenizer = TextTokenizer.train(texts, vocab_size=VOCAB, max_length=16)
    labels = LabelMap(["finance", "nature", "animals"])
    model = QuantumClassifier(tokenizer.vocab_size, len(labels), **SMALL).eval()
    folder = model.save_pretrained(tmp_path / "model", tokenizer=tokenizer, labels=labels,
                                   data_options={"text_field": "text", "label_field": "label"})
    loaded = load_pretrained(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "labels.json", "model.safetensors", "tokenizer"]
    assert [t.ids for t in loaded.tokenizer.encode(texts)] == [t.ids for t in tokenizer.encode(texts)]
    assert loaded.labels.names == labels.names
    assert loaded.data_options == {"text_field": "text", "label_field": "label"}
    ids = torch.tensor([tokenizer.encode(texts[:1])[0].ids])
    assert torch.equal(loaded.model(ids).logits, model(ids).logits)
    model.save_pretrained(folder)  # saved again without them: the earlier tokenizer and labels are not its own
    assert load_pretrained(folder)[1:] == (None, None, {})
    with pytest.raises(TypeError, match="tokenizer must be a qembed.data.TextTokenizer or None, got str"):
        model.save_pretrained(tmp_path / "other", tokenizer="bert-base-uncased")
    with pytest.raises(TypeError, match="labels must be a qembed.data.LabelMap or None, got list"):
        model.save_pretrained(tmp_path / "other", labels=["finance", "nature", "animals"])
    assert not (tmp_path / "other").exists()


def test_a_legacy_run_folder_gives_its_corpus_tokenizer_and_label_map(legacy_runs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_pretrained(legacy_runs / "best_true")
    assert "the tokenizer of the corpus's vocabulary; the label map of the corpus's topics" in str(caught[0].message)
    corpus = PolysemyCorpus(num_train=16, num_val=8, num_test=0)
    assert list(loaded.labels.names) == corpus.label_names
    text = " ".join(corpus.decode(corpus.train[0]["input_ids"]).split())
    assert list(loaded.tokenizer.encode([text])[0].ids) == corpus.encode(text)
