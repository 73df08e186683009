"""``benchmarks/science.py --smoke`` runs every job of every setting in its tiny size (64
training and 64 test sentences per corpus, 1 epoch, 1 seed; WordNet included, cut to 64
evenly spaced sentences per split, when the database is installed, as ``make test`` does),
writes one JSON line per job and prints the tables; ``--resume`` then finds nothing left to
run and ``--table`` prints the same tables from the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qembed.data.wordnet import wordnet_root
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "benchmarks" / "science.py"
MODELS = ("quantum", "one_sense", "no_entanglement", "no_collapse", "context_free", "classical")
KEYS = {"setting", "model", "schedule", "seed", "data", "epochs", "smoke", "params", "model_options", "test",
        "eval_modes", "sense", "train_loss", "seconds", "torch", "python", "git_commit", "source_digest"}
METRICS = {"accuracy", "ece", "nll", "brier", "uncertainty", "predictive_entropy", "mutual_information",
           "sense_entropy", "uncertainty_auroc", "predictive_entropy_auroc"}


def science(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(SCRIPT), "--smoke", *args], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=170, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_smoke_run_writes_results_and_prints_tables(tmp_path: Path) -> None:
    with_wordnet = (wordnet_root() / "data.noun").is_file()
    settings = ["low", "full", "schedules"] + (["wordnet"] if with_wordnet else [])
    out = tmp_path / "science.jsonl"
    stdout = science("--out", str(out), "--settings", ",".join(settings)).stdout

    records = [json.loads(line) for line in out.read_text().splitlines()]
    main = [s for s in ("low", "full", "wordnet") if s in settings]
    expected = {(s, m, "linear") for s in main for m in MODELS} | {("low", "quantum", "cyclic"),
                                                                    ("low", "quantum", "constant")}
    assert sorted((r["setting"], r["model"], r["schedule"]) for r in records) == sorted(expected)
    for record in records:
        assert set(record) >= KEYS, record.keys()
        assert record["seed"] == 0 and record["epochs"] == 1 and record["smoke"] is True
        assert METRICS <= set(record["test"]) and 0.0 <= record["test"]["accuracy"] <= 1.0
        assert record["params"] > 0 and len(record["train_loss"]) == 1
        assert (record["eval_modes"] is not None) == (record["model"] == "quantum")
        if record["eval_modes"] is not None:
            assert set(record["eval_modes"]) == {"expected", "collapsed", "superposed"}
            assert record["eval_modes"]["expected"] == record["test"]["accuracy"]
        assert (record["sense"] is None) == (record["model"] in ("one_sense", "classical"))
        if record["model"] == "classical":  # no collapse samples: the two uncertainties agree
            assert record["test"]["uncertainty_auroc"] == record["test"]["predictive_entropy_auroc"]

    for setting in main:
        assert f"### {setting}: " in stdout
    assert stdout.count("| model | params | test accuracy | sense accuracy (MFS ") == len(main)
    for heading in ("### Paired differences (by seed)", "### Schedules and evaluation modes",
                    "### Goals of issue 11"):
        assert heading in stdout
    assert "| low | test accuracy: quantum - classical |" in stdout
    goals = stdout[stdout.index("### Goals of issue 11"):].splitlines()
    assert sum(line.startswith(("- PASS", "- FAIL")) for line in goals) == 6

    resumed = science("--out", str(out), "--settings", ",".join(settings), "--resume").stdout
    assert f"0 of {len(expected)} jobs to run" in resumed
    assert len(out.read_text().splitlines()) == len(records)
    table = science("--out", str(out), "--settings", ",".join(settings), "--table").stdout
    assert table.strip() in stdout


def test_block_dropout_runs_are_recorded_kept_apart_and_compared(tmp_path: Path) -> None:
    """--attention-dropout / --activation-dropout reach the models and their records; a results
    file is never resumed with other rates; --compare pairs two files' runs by seed."""
    plain, dropped = tmp_path / "plain.jsonl", tmp_path / "dropped.jsonl"
    jobs = ["--settings", "low", "--models", "quantum,classical"]
    science("--out", str(plain), *jobs)
    stdout = science("--out", str(dropped), *jobs, "--attention-dropout", "0", "--activation-dropout", "0.2").stdout
    assert "blocks' (attention, activation) dropout: (0.0, 0.2)" in stdout
    options = [json.loads(line)["model_options"] for line in dropped.read_text().splitlines()]
    assert {(o["attention_dropout"], o["activation_dropout"]) for o in options} == {(0.0, 0.2)}
    assert {json.loads(line)["model_options"]["attention_dropout"] for line in plain.read_text().splitlines()} == {None}

    refused = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(dropped), *jobs, "--resume"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "other block dropouts" in refused.stderr
    out_of_range = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--attention-dropout", "1.5"],
                                  cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out_of_range.returncode == 2 and "--attention-dropout must be in [0, 1), got 1.5" in out_of_range.stderr

    compared = science("--out", str(dropped), *jobs, "--table", "--compare", str(plain)).stdout
    assert "### This file against --compare (paired by seed)" in compared
    rows = [line for line in compared.splitlines() if line.startswith("| low | ")]
    assert {row.split(" | ")[1] for row in rows} >= {"quantum", "classical"}
    assert all(row.endswith("| 1 |") for row in rows if "test accuracy" in row)
