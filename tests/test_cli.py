"""The ``qembed`` command line: listing, schedule tables, errors and help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import qembed
from qembed.cli import main
from qembed.plugins import KINDS


def test_plugins_lists_every_kind_with_supplier_and_summary(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for kind in KINDS:
        assert f"\n{kind} (" in f"\n{out}"
    linear_line = next(line for line in out.splitlines() if line.strip().startswith("linear"))
    assert f"qembed {qembed.__version__}" in linear_line
    assert "rising linearly from 0" in linear_line


def test_plugins_json_is_machine_readable(capsys):
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert list(listing["kinds"]) == list(KINDS)
    linear = next(e for e in listing["kinds"]["schedules"] if e["name"] == "linear")
    assert linear["distribution"] == "qembed" and linear["version"] == qembed.__version__
    assert listing["failures"] == []


def test_schedule_table_prints_each_schedule_at_every_step(capsys):
    assert main(["schedule", "table", "linear", "constant:value=0.25", "--steps", "3"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["step", "linear", "constant:value=0.25"]
    assert rows[1:] == [["0", "0.0000", "0.2500"], ["1", "0.5000", "0.2500"], ["2", "1.0000", "0.2500"]]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["schedule", "table", "lineer"], "did you mean 'linear'?"),
        (["schedule", "table", "constant:value=1.5"], "value must be in [0, 1], got 1.5"),
        (["schedule", "table", "cyclic:cycle_steps"], "must look like key=value"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qembed: error: ") and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["plugins", "bogus"], "qembed plugins: error: argument ACTION: invalid choice: 'bogus'"),
        (["train"], "qembed train: error: the following arguments are required: CONFIG"),
        (["predict"], "qembed predict: error: the following arguments are required: RUN_DIR"),
        (["explain", "runs/x"], "qembed explain: error: the following arguments are required: TEXT"),
        (["evaluate", "runs/x", "--split", "train"], "qembed evaluate: error: argument --split: invalid choice"),
        (["schedule", "table", "linear", "--steps", "x"], "qembed schedule table: error: argument --steps"),
        (["trian"], "qembed: error: argument COMMAND: invalid choice: 'trian'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(capsys, argv, expected):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1 and "usage:" not in err


@pytest.mark.parametrize("argv", [["--help"], ["plugins", "--help"], ["schedule", "table", "--help"],
                                  ["demo", "--help"], ["train", "--help"], ["plot", "--help"], ["evaluate", "--help"],
                                  ["predict", "--help"], ["explain", "--help"],
                                  ["schedule", "plot", "--help"], ["plugins", "check", "--help"]])
def test_every_command_has_help_with_examples_of_that_command(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    _, examples = capsys.readouterr().out.split("examples:")
    assert " ".join(["qembed", *argv[:-1]]) + " " in examples


@pytest.mark.slow
def test_demo_trains_and_writes_logs_history_and_the_best_model(capsys, tmp_path):
    assert main(["demo", "--epochs", "1", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    [run_dir] = tmp_path.iterdir()
    assert (run_dir / "best_model.pth").is_file() and (run_dir / "history.json").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert (run_dir / "model" / "model.safetensors").is_file() and (run_dir / "senses.png").is_file()
    assert f"senses:     {run_dir / 'senses.png'}   (qembed explain {run_dir} \"the teller" in out
    header, row = [line.split() for line in out.splitlines() if line.strip().startswith(("epoch", "0 "))][:2]
    assert header == ["epoch", "train_loss(epoch", "mean)", "val_loss", "val_acc", "uncertainty", "collapse_p"]
    assert len(row) == 6
    assert f"tensorboard --logdir {tmp_path}" in out


@pytest.mark.slow
def test_console_script_lists_a_broken_plugin_as_failed_and_exits_0(make_distribution):
    site = make_distribution("broken-plugin", "0.9", {"broken": "broken_plugin"},
                             {"broken_plugin": "raise ImportError('cannot start')"})
    script = Path(sys.executable).with_name("qembed")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([str(script), "plugins"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "failed plugins (1)" in result.stdout
    assert "broken-plugin 0.9 (broken = broken_plugin): ImportError: cannot start" in result.stdout
    assert "linear" in result.stdout
