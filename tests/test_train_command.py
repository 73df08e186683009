"""``qembed train CONFIG``: the run-config schema, its errors, the run folder, resume and
the packaged demo config. Tiny corpora and models keep every run to a few seconds."""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from importlib import resources
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, Optional, Union

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler

from qembed.cli import main
from qembed.plugins.option_types import fits, type_name
from qembed.cli.run_config import LR_SCHEDULERS, RunConfigError, load_run_config
from qembed.cli.run_setup import prepare_run
from qembed.cli.train_command import parse_override
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "configs"

TINY = """\
[model]
name = "QuantumClassifier"
embedding_dim = 16
num_states = 2
num_layers = 0
num_heads = 2
max_length = 32

[data]
num_train = 32
num_val = 16
num_test = 0
batch_size = 8

[optimizer]
name = "quantum"
lr = 3e-3

[loss]
name = "quantum"
uncertainty_weight = 0.05

[lr_scheduler]
name = "StepLR"
step_size = 3
gamma = 0.5

[quantum]
superposition_schedule = { name = "cyclic", cycle_steps = 3 }
quantum_gradient_clipping = true
quantum_memory_replay = { name = "reservoir", capacity = 16 }
log_every_n_steps = 2

[training]
epochs = 2
progress_bar = false
log_dir = "runs/{name}"
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory holding the tiny config as ``tiny.toml``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def history(run_dir: Path) -> dict:
    return json.loads((run_dir / "history.json").read_text())


# --- the schema ---------------------------------------------------------------------


def test_the_example_toml_and_yaml_describe_the_same_run():
    toml = load_run_config(EXAMPLES / "polysemy.toml")
    yaml_twin = load_run_config(EXAMPLES / "polysemy.yaml")
    assert toml.to_dict(Path("run")) == yaml_twin.to_dict(Path("run"))
    assert toml.optimizer["lr"] == 3e-3  # YAML's `3e-3` is a float too


def test_the_toml_and_yaml_examples_of_the_docs_are_the_same_valid_run(tmp_path):
    page = (REPO_ROOT / "docs" / "cli.md").read_text()
    [toml_block] = re.findall(r"```toml\n(.*?)```", page, re.S)
    [yaml_block] = re.findall(r"```yaml\n(.*?)```", page, re.S)
    toml = load_run_config(write(tmp_path, "run.toml", toml_block))
    yaml_twin = load_run_config(write(tmp_path, "run.yaml", yaml_block))
    assert toml.to_dict(Path("run")) == yaml_twin.to_dict(Path("run"))


def test_the_packaged_demo_config_is_a_valid_run_config():
    with resources.as_file(resources.files("qembed") / "configs" / "demo.toml") as path:
        config = load_run_config(path)
    assert (config.name, config.model.name, config.training.epochs) == ("demo", "QuantumClassifier", 8)


def test_overrides_are_read_as_toml_values_else_as_strings():
    assert parse_override("training.epochs=3") == ("training.epochs", 3)
    assert parse_override("optimizer.lr=1e-3") == ("optimizer.lr", 1e-3)
    assert parse_override("training.checkpoints=false") == ("training.checkpoints", False)
    assert parse_override("model.name=QuantumMaskedLM") == ("model.name", "QuantumMaskedLM")
    assert parse_override("quantum.clipping={name='value', clip_value=0.5}") == (
        "quantum.clipping", {"name": "value", "clip_value": 0.5})


@given(st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False)))
def test_an_override_reads_any_number_or_boolean_back_as_itself(value):
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    key, parsed = parse_override(f"training.value={text}")
    assert (key, parsed, type(parsed)) == ("training.value", value, type(value))


def test_an_override_sets_an_option_of_a_component_given_by_its_name_alone(workdir):
    text = (TINY.replace('[optimizer]\nname = "quantum"\nlr = 3e-3\n', "")
            .replace("[model]", 'optimizer = "adamw"\n[model]')
            .replace('superposition_schedule = { name = "cyclic", cycle_steps = 3 }', 'superposition_schedule = "cyclic"'))
    overrides = {"optimizer.lr": 0.5, "quantum.superposition_schedule.cycle_steps": 7}
    config = load_run_config(write(workdir, "short.toml", text), overrides)
    assert config.optimizer == {"name": "adamw", "lr": 0.5}
    assert config.quantum.to_dict()["superposition_schedule"] == {"name": "cyclic", "cycle_steps": 7}


@pytest.mark.parametrize("name", LR_SCHEDULERS)
def test_every_lr_scheduler_option_takes_its_torch_default_and_refuses_a_value_of_another_type(workdir, name):
    """torch takes a wrong type silently and fails at the first step, after files were written."""
    required = {"step_size": 3, "milestones": [2, 4], "gamma": 0.5, "T_max": 10, "T_0": 5, "base_lr": 1e-3,
                "max_lr": 1e-2}
    parameters = {key: p for key, p in inspect.signature(getattr(lr_scheduler, name)).parameters.items()
                  if key != "optimizer"}
    options = {key: required[key] if p.default is inspect.Parameter.empty else p.default
               for key, p in parameters.items()}
    raw = tomllib.loads(TINY)
    raw["lr_scheduler"] = {"name": name, **options}
    assert load_run_config(write(workdir, "run.yaml", yaml.safe_dump(raw))).lr_scheduler == raw["lr_scheduler"]
    for key in parameters:
        with pytest.raises(RunConfigError, match=rf"\[lr_scheduler\] {name} {key} must be .*, got 'x'"):
            load_run_config(workdir / "run.yaml", {f"lr_scheduler.{key}": "x"})


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (3, int, True), (True, int, False), (3, float, True), (True, float, False), (True, bool, True),
        (0.5, Union[float, torch.Tensor], True), ("0.5", Union[float, torch.Tensor], False),
        (None, Optional[int], True), (None, int, False), ([1, 2], list[int], True), ([1, "2"], list[int], False),
        ("12", Iterable[int], False), ([1, 2.5], tuple[int, float], True), ([1], tuple[int, float], False),
        ([1, 2, 3], tuple[int, ...], True), ("cos", Literal["cos", "linear"], True),
        ("sin", Literal["cos", "linear"], False), (1, Literal[True], False), (print, Callable[[float], float], False),
    ],
)
def test_a_config_value_fits_a_type_hint_as_plain_data(value, hint, expected):
    """bool is no int, an int is a float, a list stands for a sequence or tuple, nothing is a function."""
    assert fits(value, hint) is expected


def test_a_type_hint_is_named_as_its_source_spells_it():
    assert [type_name(hint) for hint in (int, Union[float, torch.Tensor], Iterable[int], float | list[float])] == [
        "int", "Union[float, Tensor]", "Iterable[int]", "float | list[float]"]


def test_the_resolved_config_reads_back_as_the_same_run(workdir, capsys):
    assert main(["train", "tiny.toml", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    resolved = yaml.safe_load(printed)
    assert resolved["data"]["seed"] == 0 and resolved["model"]["collapse_strategy"] == "context_aware"
    assert resolved["quantum"]["max_nonfinite_steps"] == 10 and resolved["training"]["log_dir"] == "runs/tiny"
    again = load_run_config(write(workdir, "resolved.yaml", printed))
    assert again.to_dict(Path("runs/tiny")) == resolved
    assert sorted(p.name for p in workdir.iterdir()) == ["resolved.yaml", "tiny.toml"]  # a dry run writes nothing


# --- training, the run folder and resume ----------------------------------------------


def test_train_writes_the_run_folder_and_resume_continues_exactly(workdir, capsys):
    assert main(["train", "tiny.toml"]) == 0
    out = capsys.readouterr().out
    straight = workdir / "runs" / "tiny"
    assert {p.name for p in straight.iterdir()} >= {"history.json", "config.yaml", "checkpoints"}
    assert list(straight.glob("events.out.tfevents.*"))
    names = {p.name for p in (straight / "checkpoints").iterdir()}
    assert len(names) == 2 and "last.pth" in names and any(n.startswith("epoch=") and "-val_loss=" in n for n in names)
    assert not (straight / "best_model.pth").exists()  # one "best" file: the checkpoint that carries its metric
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "1"] and all(len(row) == 6 for row in rows)
    assert "--resume runs/tiny\n" in out and "tensorboard --logdir runs/tiny " in out

    resumed = "runs/resumed"
    assert main(["train", "tiny.toml", "--set", "training.epochs=1", "--set", f"training.log_dir={resumed}"]) == 0
    assert main(["train", "tiny.toml", "--resume", resumed, "--set", "training.epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "continuing runs/resumed/checkpoints/last.pth up to 2 epochs" in out
    assert history(workdir / resumed) == history(straight)
    assert not (workdir / "runs" / "tiny-resumed").exists()

    assert main(["train", str(straight / "config.yaml"), "--resume", str(straight / "checkpoints" / "last.pth")]) == 0
    assert "the run already has 2 epochs" in capsys.readouterr().out
    assert sorted(p.name for p in (workdir / "runs").iterdir()) == ["resumed", "tiny"]


def test_the_step_and_monitor_keys_reach_the_trainer(workdir):
    assert main(["train", "tiny.toml", "--set", "training.max_steps=6", "--set", "training.val_check_interval=2",
                 "--set", "training.checkpoint_every_n_steps=3", "--set", "training.monitor=val_accuracy",
                 "--set", "training.mode=max", "--set", "training.save_top_k=-1"]) == 0
    run_dir = workdir / "runs" / "tiny"
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == [0, 1]  # 4 steps per epoch: the run ends 2 steps into the second
    steps = sorted(int(p.name.split("-")[1].removeprefix("step=")) for p in (run_dir / "checkpoints").glob("epoch=*"))
    assert steps == [2, 4, 6]  # every validation's check kept (save_top_k = -1)


def test_the_training_loggers_key_picks_the_loggers_and_they_get_the_whole_run_config(workdir):
    (workdir / "tiny.toml").write_text(TINY.replace("progress_bar = false", 'progress_bar = false\nloggers = ["csv"]'))
    assert main(["train", "tiny.toml", "--set", "training.epochs=1"]) == 0
    run_dir = workdir / "runs" / "tiny"
    assert (run_dir / "metrics.csv").exists() and not list(run_dir.glob("events.out.tfevents.*"))
    hparams = yaml.safe_load((run_dir / "hparams.yaml").read_text())
    assert hparams["optimizer/name"] == "quantum" and hparams["data/num_train"] == 32
    assert hparams["training/epochs"] == 1 and hparams["log_every_n_steps"] == 2
    assert hparams["lr_scheduler/name"] == "StepLR" and hparams["model/name"] == "QuantumClassifier"


def test_a_masked_lm_trains_on_masked_tokens_of_the_corpus(workdir):
    write(workdir, "mlm.toml", TINY.replace('name = "quantum"\nuncertainty_weight = 0.05', 'name = "cross_entropy"'))
    assert main(["train", "mlm.toml", "--set", "model.name=QuantumMaskedLM", "--set", "data.mask_probability=0.3",
                 "--set", "training.epochs=1", "--set", "training.checkpoints=false"]) == 0
    assert len(history(workdir / "runs" / "mlm")["train_loss"]) == 1
    assert not (workdir / "runs" / "mlm" / "checkpoints").exists()


def test_a_user_data_module_gives_the_loaders_and_the_model_its_sizes(workdir, capsys):
    write(workdir, "my_data.py", """
        from qembed.data import PolysemyCorpus

        def build(batch_size, size=32):
            corpus = PolysemyCorpus(num_train=size, num_val=8, num_test=0)
            train, val, _ = corpus.loaders(batch_size=batch_size)
            return train, val
        """)
    text = TINY.replace("[data]\nnum_train = 32\nnum_val = 16\nnum_test = 0\nbatch_size = 8\n",
                        '[data]\nmodule = "my_data.py"\nbatch_size = 8\n')
    config = write(workdir, "mine.toml", text.replace("max_length = 32", "max_length = 32\nvocab_size = 64\n"
                                                                          "num_labels = 8"))
    assert main(["train", str(config), "--dry-run"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["data"] == {"module": "my_data.py", "batch_size": 8}
    assert resolved["model"]["vocab_size"] == 64
    assert main(["train", str(config), "--set", "data.sise=3", "--dry-run"]) == 2
    assert "[data] unknown key 'sise' (did you mean 'size'?)" in capsys.readouterr().err


# --- errors: one line, exit code 2, nothing written -----------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("[training]", "[trainin]"), "tiny.toml: unknown section [trainin] (did you mean 'training'?)"),
        (("[quantum]\n", "[quantum]\nsuperposition_shedule = 'linear'\n"),
         "tiny.toml: [quantum] unknown key 'superposition_shedule' (did you mean 'superposition_schedule'?)"),
        (("epochs = 2", "epochs = 'two'"), "tiny.toml: [training] epochs must be an integer >= 1, got 'two'"),
        (("epochs = 2", "epochs = 2\nepochs = 3"), "tiny.toml: TOML syntax error: Cannot overwrite a value (at line 36, column 11)"),
        (("name = \"QuantumClassifier\"", "name = \"QuantumClasifier\""),
         "[model] unknown model 'QuantumClasifier' (did you mean 'QuantumClassifier'"),
        (("num_heads = 2", "num_heads = 3"), "[model] embedding_dim=16 must be divisible by num_heads=3"),
        (("num_train = 32", "num_train = 0"), "tiny.toml: [data] num_train must be >= 1, got 0"),
        (("name = \"quantum\"\nlr", "name = \"quantm\"\nlr"), "[optimizer] unknown optimizer 'quantm' (did you mean"),
        (("uncertainty_weight = 0.05", "uncertainty_wieght = 0.05"),
         "[loss] loss 'quantum' has no option 'uncertainty_wieght' (did you mean 'uncertainty_weight'?)"),
        (("gamma = 0.5", "gama = 0.5"), "[lr_scheduler] unknown key 'gama' (did you mean 'gamma'?)"),
        (("step_size = 3", "step_size = '3'"), "tiny.toml: [lr_scheduler] StepLR step_size must be int, got '3'"),
        (("capacity = 16", "capacity = -1"), "[quantum] quantum_memory_replay: invalid options for replay"),
        (("log_every_n_steps = 2", "log_every_n_steps = 0"),
         "[quantum] quantum_training_config['log_every_n_steps'] must be >= 1, got 0"),
        (("log_dir = \"runs/{name}\"", "log_dir = \"runs/{nme}\""), "[training] log_dir uses {nme}"),
        (("log_dir = \"runs/{name}\"", "log_dir = \"runs/{name!r}\""), "[training] log_dir 'runs/{name!r}': write {name} plainly"),
        (("log_dir = \"runs/{name}\"", "log_dir = \"runs/{name\""),
         "[training] log_dir 'runs/{name': expected '}' before end of string"),
        (("name = \"quantum\"\nlr", "name = 3\nlr"), "[optimizer] needs name = a registered optimizer name "
         "(`qembed plugins` lists them), got 3"),
        (("lr = 3e-3", "lr = 1e300"), "tiny.toml: [optimizer] the optimizer's param_groups[0]['lr'] = 1e+300 must be "
         "finite and fit the parameters' dtype (|value| <= 3.403e+38)"),
        (("lr = 3e-3", "lr = 3e-3\nbetas = []"), "[optimizer] invalid options for optimizer 'quantum' (given: "
         "lr=0.003, betas=[]): IndexError: list index out of range"),
        (("step_size = 3", "step_size = 0"), "tiny.toml: [lr_scheduler] StepLR fails at step 1 of the run's 8: "
         "ZeroDivisionError: integer modulo by zero"),
        (("gamma = 0.5", "gamma = 1e300"), "[lr_scheduler] StepLR gives a learning rate of inf at step 6; it must "
         "stay a finite number >= 0 for the whole run"),
        (("max_length = 32", "max_length = 16"), "tiny.toml: [model] max_length=16 is shorter than the corpus's "
         "sentences (up to 24 tokens): set it >= 24, or lower [data] max_length"),
        (("epochs = 2", "epochs = 2\nval_check_interval = 1.5"), "tiny.toml: [training] val_check_interval must be "
         "an integer >= 1 (optimizer steps) or a float in (0, 1] (a fraction of an epoch), got 1.5"),
        (("epochs = 2", "epochs = 2\nmode = 'best'"),
         "tiny.toml: [training] mode must be \"min\" or \"max\", got 'best'"),
        (("epochs = 2", "epochs = 2\nmonitor = 'val_acuracy'"), "monitor='val_acuracy' is not a metric this run "
         "produces (did you mean 'val_accuracy'?)"),
        (("progress_bar = false", 'progress_bar = false\nloggers = ["tensorbord"]'),
         "tiny.toml: [training] unknown logger 'tensorbord' (did you mean 'tensorboard'?)"),
        (("progress_bar = false", 'progress_bar = false\nloggers = "csv"'),
         "tiny.toml: [training] loggers must be a list of logger names"),
    ],
)
def test_a_bad_config_is_one_line_with_exit_code_2_and_writes_nothing(workdir, capsys, edit, expected):
    old, new = edit
    assert old in TINY
    (workdir / "tiny.toml").write_text(TINY.replace(old, new, 1))
    assert main(["train", "tiny.toml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: ") and expected in err, err
    assert err.count("\n") == 1
    assert not (workdir / "runs").exists()


def test_an_lr_schedule_shorter_than_the_run_is_refused_before_training(workdir, capsys):
    """OneCycleLR raises once stepped past total_steps: here at step 6 of 8, in epoch 2."""
    text = TINY.replace('name = "StepLR"\nstep_size = 3\ngamma = 0.5', 'name = "OneCycleLR"\nmax_lr = 0.1\n'
                        'total_steps = 5')
    assert main(["train", str(write(workdir, "cycle.toml", text)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "cycle.toml: [lr_scheduler] OneCycleLR fails at step 6 of the run's 8: Tried to step 6 times" in err
    assert main(["train", "cycle.toml", "--dry-run", "--set", "lr_scheduler.total_steps=8"]) == 0


def test_num_val_0_trains_without_validation(workdir):
    assert main(["train", "tiny.toml", "--set", "data.num_val=0"]) == 0
    recorded = history(workdir / "runs" / "tiny")
    assert len(recorded["train_loss"]) == 2 and "val_loss" not in recorded


def test_yaml_aliases_are_refused_before_they_expand(workdir, capsys):
    laughs = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9 if i else ["lol"] * 9) + "]\n"
                     for i in range(12))  # expanded: 9**12 strings
    write(workdir, "laughs.yaml", laughs)
    assert main(["train", "laughs.yaml", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "laughs.yaml: YAML syntax error at line 2, column 10: alias *l0 is not allowed in a run config" in err
    assert err.count("\n") == 1


def test_yaml_syntax_errors_name_the_line(workdir, capsys):
    write(workdir, "bad.yaml", "model:\n  name: QuantumClassifier\n  - oops\n")
    assert main(["train", "bad.yaml"]) == 2
    assert "bad.yaml: YAML syntax error at line 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "missing.toml"], "no such config file: missing.toml"),
        (["train", "tiny.toml", "--resume", "nowhere"], "--resume nowhere: no such checkpoint file or run folder"),
        (["train", "tiny.toml", "--resume", "."], "the folder has no checkpoints/last.pth"),
        (["train", "tiny.toml", "--set", "epochs=3"], "override 'epochs' must look like SECTION.KEY"),
        (["train", "tiny.toml", "--set", "data.module=x.py"], "[data] give one of corpus, train (your text files) and module, not corpus and module"),
        (["train", "tiny.toml", "--dry-run", "--set", "quantum.superposition_schedule=2"],
         "[quantum] quantum_training_config['superposition_schedule'] must be a registered name"),
        (["train", "tiny.toml", "--dry-run", "--set", "quantum.superposition_schedule=[1, 2]"], "got [1, 2]"),
        (["train", "tiny.toml", "--dry-run", "--set", "quantum.mixed_precision=bf16", "--set",
          "quantum.mixed_precision.x=1"], "cannot set quantum.mixed_precision.x: quantum.mixed_precision is not a table"),
    ],
)
def test_command_line_mistakes_are_one_line_with_exit_code_2(workdir, capsys, argv, expected):
    if "module" in argv[-1]:
        (workdir / "tiny.toml").write_text(TINY.replace("[data]\n", "[data]\ncorpus = 'polysemy'\n"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: ") and expected in err and err.count("\n") == 1, err


#: per section, keys with values that a run may well use (each key also gets arbitrary values)
_FUZZ_KEYS = {
    "model": {"name": ['"QuantumClassifier"', '"ClassicalClassifier"', '"QuantumMaskedLM"'],
              "embedding_dim": ["8", "12", "16"], "num_states": ["1", "3"], "num_layers": ["0", "1"],
              "num_heads": ["1", "4"], "max_length": ["16", "64"], "dropout": ["0.0", "0.3"],
              "attention_dropout": ["0.0", "0.2"], "activation_dropout": ["0.0", "0.2"],
              "entanglement": ['"auto"', '"dense"', '"sparse"', '"none"'], "contextual": ["true", "false"],
              "collapse_strategy": ['"context_aware"', '"born"'], "vocab_size": ["64"]},
    "data": {"num_train": ["8", "33"], "num_val": ["0", "5"], "num_test": ["0", "4"], "batch_size": ["1", "5", "64"],
             "seed": ["3"], "corpus": ['"polysemy"'], "mask_probability": ["0.2"]},
    "optimizer": {"name": ['"adamw"', '"sgd"', '"quantum"', '"adam"'], "lr": ["1e-2", "0.0", "10.0"],
                  "weight_decay": ["0.0", "0.1"], "momentum": ["0.9"], "betas": ["[0.9, 0.99]"]},
    "loss": {"name": ['"cross_entropy"', '"quantum"', '"uncertainty"'], "uncertainty_weight": ["0.0", "0.5"],
             "base_loss": ['"cross_entropy"'], "mc_samples": ["2", "4"]},
    "lr_scheduler": {"name": ['"StepLR"', '"OneCycleLR"', '"CosineAnnealingLR"', '"CyclicLR"'],
                     "step_size": ["1", "2"], "gamma": ["0.5", "2.0"], "T_max": ["4"], "max_lr": ["0.1"],
                     "total_steps": ["3", "1000"], "base_lr": ["1e-3"]},
    "quantum": {"superposition_schedule": ['"linear"', '{name = "cyclic", cycle_steps = 2}', '"constant"'],
                "collapse_strategy": ['"context_aware"', '"born"', '"argmax"'],
                "clipping": ['"global_norm"', '{name = "global_norm", max_norm = 0.5}'],
                "quantum_memory_replay": ['"reservoir"', '{name = "reservoir", capacity = 4}'],
                "max_grad_norm": ["1.0", "0.1"], "gradient_accumulation_steps": ["1", "2", "3"],
                "mixed_precision": ["true", "false", '"bf16"'], "uncertainty_samples": ["0", "2"],
                "log_every_n_steps": ["1", "7"], "max_nonfinite_steps": ["1", "5"],
                "quantum_parallel": ["true", "false"], "entanglement_optimization": ['"auto"', '"dense"', '"sparse"']},
    "training": {"epochs": ["1", "2"], "seed": ["0", "7"], "device": ['"cpu"', '"auto"'],
                 "checkpoints": ["true", "false"], "progress_bar": ["true", "false"],
                 "early_stopping_patience": ["0", "1"]},
}
_TOML_SCALARS = st.one_of(
    st.sampled_from(["true", "false"]), st.integers(-2, 40).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e-3", "0.5", "1e300"]),
    st.sampled_from(["linear", "cyclic", "adamw", "sgd", "quantum", "reservoir", "global_norm", "cpu", "cuda:7",
                     "StepLR", "QuantumMaskedLM", "cross_entropy", "bf16", "fp16", ""]).map(json.dumps),
)
_TOML_VALUES = st.one_of(
    _TOML_SCALARS,
    st.lists(_TOML_SCALARS, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    st.dictionaries(st.sampled_from(["name", "capacity", "cycle_steps", "max_norm", "value", "lr"]), _TOML_SCALARS,
                    max_size=2).map(lambda table: "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"),
)


def _fuzz_override(section: str) -> st.SearchStrategy[tuple[str, str, str]]:
    return st.sampled_from(sorted(_FUZZ_KEYS[section])).flatmap(lambda key: st.tuples(
        st.just(section), st.just(key), st.sampled_from(_FUZZ_KEYS[section][key]) | _TOML_VALUES))


_OVERRIDES = st.lists(
    st.sampled_from(sorted(_FUZZ_KEYS)).flatmap(_fuzz_override), min_size=1, max_size=4, unique_by=lambda o: o[:2],
).map(lambda items: [arg for section, key, value in items for arg in ("--set", f"{section}.{key}={value}")])


@pytest.mark.slow
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=_OVERRIDES)
def test_a_fuzzed_run_config_is_refused_by_dry_run_in_one_line_or_trains(workdir, capsys, overrides):
    """What --dry-run accepts trains; what it refuses is one bounded line, exit code 2."""
    code = main(["train", "tiny.toml", "--dry-run", *overrides])
    err = capsys.readouterr().err
    assert code in (0, 2), (overrides, err)
    if code == 2:
        assert err.startswith("qembed: error: ") and err.count("\n") == 1 and len(err) < 800, err
        return
    run = f"runs/fuzz-{len(list((workdir / 'runs').glob('fuzz-*'))) if (workdir / 'runs').exists() else 0}"
    code = main(["train", "tiny.toml", *overrides, "--set", f"training.log_dir={run}"])  # the run it accepted
    err = capsys.readouterr().err
    assert code in (0, 3), (overrides, err)  # trained, or diverged (an lr of 10) with one line


def test_a_run_folder_that_holds_files_is_not_overwritten(workdir, capsys):
    (workdir / "runs" / "tiny").mkdir(parents=True)
    (workdir / "runs" / "tiny" / "notes.txt").write_text("mine")
    assert main(["train", "tiny.toml"]) == 2
    assert "log_dir 'runs/tiny' already holds files; continue that run with --resume" in capsys.readouterr().err


def test_runs_started_in_the_same_second_get_folders_of_their_own(workdir, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda *_: "20250101-120000")
    for _ in range(3):
        assert main(["train", "tiny.toml", "--set", "training.log_dir=runs/{name}-{timestamp}",
                     "--set", "training.epochs=1"]) == 0
    folders = sorted(p.name for p in (workdir / "runs").iterdir())
    assert folders == ["tiny-20250101-120000", "tiny-20250101-120000-2", "tiny-20250101-120000-3"]
    assert all((workdir / "runs" / name / "history.json").is_file() for name in folders)


def test_a_run_folder_another_run_took_after_the_check_stops_the_run_before_it_writes(workdir):
    """Two runs launched in the same second both find the folder free; the second to start stops."""
    prepared = prepare_run(load_run_config(workdir / "tiny.toml"))
    prepared.run_dir.mkdir(parents=True)
    (prepared.run_dir / "config.yaml").write_text("the other run's\n")
    with pytest.raises(RunConfigError, match="was taken by another run that started at the same time"):
        prepared.train()
    assert [p.name for p in prepared.run_dir.iterdir()] == ["config.yaml"]
    assert (prepared.run_dir / "config.yaml").read_text() == "the other run's\n"


def test_a_checkpoint_that_cannot_be_loaded_is_a_one_line_error_and_writes_nothing(workdir, capsys):
    (workdir / "garbage.pth").write_bytes(b"not a checkpoint\n")  # torch's own message spans lines
    assert main(["train", "tiny.toml", "--resume", "garbage.pth"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: 'garbage.pth' is not a checkpoint") and err.count("\n") == 1, err
    assert not (workdir / "runs").exists()


@pytest.mark.slow
def test_under_torchrun_every_rank_writes_into_rank_0s_folder_and_rank_0_alone_reports(workdir):
    write(workdir, "job.py", """
        import os, sys, time
        if os.environ["RANK"] == "1":  # this rank's clock reads a minute later
            clock = time.strftime
            time.strftime = lambda fmt: clock(fmt, time.localtime(time.time() + 60))
        from qembed.cli import main
        sys.exit(main(sys.argv[1:]))
        """)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
              "--master_addr", "127.0.0.1", "--master_port", str(port), "job.py", "train", "tiny.toml",
              "--set", "quantum.distributed_training=true", "--set", "training.log_dir=runs/{timestamp}"]
    result = subprocess.run(launch, capture_output=True, text=True, timeout=300, cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = (workdir / "runs").iterdir()
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names[2:] == ["last.pth", "last.rank1.pth"] and names[0].endswith(".pth") and names[1] == (
        names[0].removesuffix(".pth") + ".rank1.pth")
    assert result.stdout.count("training QuantumClassifier") == 1 and "the run already has" not in result.stdout


def test_train_has_help_with_examples(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--resume" in out and "qembed train examples/configs/polysemy.toml" in out


@pytest.mark.slow
def test_the_console_command_reports_errors_without_a_traceback(workdir):
    write(workdir, "broken.toml", "[model]\nname = \n")
    result = subprocess.run([sys.executable, "-m", "qembed", "train", "broken.toml"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "qembed: error: broken.toml: TOML syntax error: Invalid value (at line 2, column 8)\n"


def test_load_run_config_raises_a_config_error_for_python_callers(workdir):
    with pytest.raises(RunConfigError, match=r"missing section \[optimizer\]"):
        load_run_config(write(workdir, "partial.toml", "[model]\nname = 'QuantumClassifier'\n"))


def test_the_classical_baseline_trains_by_name_from_a_run_config(workdir):
    model = '[model]\nname = "ClassicalClassifier"\nembedding_dim = 16\nnum_layers = 1\nnum_heads = 2\nmax_length = 32\n'
    text = model + TINY[TINY.index("[data]"):].replace('name = "quantum"\nuncertainty_weight = 0.05',
                                                         'name = "cross_entropy"')
    write(workdir, "classical.toml", text)
    assert main(["train", "classical.toml", "--set", "training.epochs=1", "--set", "training.checkpoints=false"]) == 0
    assert len(history(workdir / "runs" / "classical")["train_loss"]) == 1


def test_a_diverged_run_is_one_line_with_exit_code_3(workdir, capsys):
    text = TINY.replace('name = "quantum"\nlr = 3e-3', 'name = "sgd"\nlr = 1e30').replace(
        "log_every_n_steps = 2", "log_every_n_steps = 1\nmax_nonfinite_steps = 2")
    write(workdir, "diverging.toml", text)
    assert main(["train", "diverging.toml"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: training diverged: 2 optimizer steps in a row") and err.count("\n") == 1


def test_an_unexpected_error_is_one_line_with_exit_code_1_and_its_traceback_on_request(workdir, capsys, monkeypatch):
    write(workdir, "broken_data.py", """
        def build(batch_size):
            return None + 1
        """)
    text = TINY.replace("[data]\nnum_train = 32\nnum_val = 16\nnum_test = 0\nbatch_size = 8\n",
                        '[data]\nmodule = "broken_data.py"\nbatch_size = 8\n').replace(
        "max_length = 32", "max_length = 32\nvocab_size = 50\nnum_labels = 2")
    write(workdir, "broken.toml", text)
    assert main(["train", "broken.toml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: TypeError: unsupported operand") and "QEMBED_TRACEBACK=1" in err
    assert err.count("\n") == 1
    monkeypatch.setenv("QEMBED_TRACEBACK", "1")
    with pytest.raises(TypeError):
        main(["train", "broken.toml"])


def test_a_closed_pipe_ends_the_command_quietly_with_exit_code_141(tmp_path):
    """`qembed plugins | head`: the reader is gone before the command writes (its end of the
    pipe closed first, so the failure is certain, not a race with the reader)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "qembed", "plugins"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""  # no "Broken pipe" line, no traceback


# --- stops and resumes in real processes ------------------------------------------------

RESUME_JOB = REPO_ROOT / "tests" / "resume_job.py"


def qembed_process(workdir: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=workdir)


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "code"), [("SIGINT@2", 130), ("SIGTERM@2", 143)])  # 4 steps per epoch
def test_a_signal_in_epoch_one_then_the_printed_resume_command_matches_an_uninterrupted_run(workdir, spec, code):
    full = qembed_process(workdir, "-m", "qembed", "train", "tiny.toml", "--set", "training.log_dir=runs/full")
    assert full.returncode == 0, full.stderr
    stopped = qembed_process(workdir, str(RESUME_JOB), "cli", spec, "train", "tiny.toml")
    assert stopped.returncode == code, stopped.stderr
    *_, message = stopped.stderr.strip().splitlines()
    assert message == (f"interrupted ({spec.split('@')[0]}); continue with: "
                       "qembed train runs/tiny/config.yaml --resume runs/tiny")
    assert sorted(p.name for p in (workdir / "runs" / "tiny" / "checkpoints").iterdir()) == ["interrupted.pth"]
    command = message.partition("continue with: qembed ")[2].split()
    resumed = qembed_process(workdir, "-m", "qembed", *command)
    assert resumed.returncode == 0, resumed.stderr
    assert "continuing runs/tiny/checkpoints/interrupted.pth up to 2 epochs" in resumed.stdout
    assert history(workdir / "runs" / "tiny") == history(workdir / "runs" / "full")
    final, expected = (torch.load(workdir / "runs" / name / "checkpoints" / "last.pth", weights_only=True)
                       for name in ("tiny", "full"))
    assert all(torch.equal(final["model_state"][k], expected["model_state"][k]) for k in expected["model_state"])


@pytest.mark.slow
def test_sigterm_from_outside_writes_interrupted_pth_and_exits_143(workdir):
    process = subprocess.Popen([sys.executable, "-m", "qembed", "train", "tiny.toml", "--set", "training.epochs=500"],
                               cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # the first epoch's row: training is under way
        if line.split()[:1] == ["1"]:
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted (SIGTERM); continue with: qembed train")
    state = torch.load(workdir / "runs" / "tiny" / "checkpoints" / "interrupted.pth", weights_only=True)
    assert state["epoch"] >= 1 and state["global_step"] >= 4
    assert "Traceback" not in stderr


def test_a_masked_lm_text_config_reads_back_its_resolved_label_field(tmp_path):
    """The resolved config.yaml of a masked LM on text files holds ``label_field: null``;
    read back (``--resume``, ``qembed evaluate``) it is accepted, and a real label field is refused."""
    table = {"model": {"name": "QuantumMaskedLM"}, "data": {"train": "raw.txt"}, "optimizer": "adamw"}
    first = tmp_path / "mlm.yaml"
    first.write_text(yaml.safe_dump(table))
    resolved = load_run_config(first).to_dict(tmp_path / "run")
    assert resolved["data"]["label_field"] is None
    again = tmp_path / "config.yaml"
    again.write_text(yaml.safe_dump(resolved))
    assert load_run_config(again).data.corpus_options["label_field"] is None
    table["data"]["label_field"] = "label"
    first.write_text(yaml.safe_dump(table))
    with pytest.raises(RunConfigError, match="label_field: QuantumMaskedLM learns from masked tokens"):
        load_run_config(first)
