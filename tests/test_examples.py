"""Every example in ``examples/`` runs in its small size (``--smoke``) and produces what its
docstring says: the files under ``--out`` (nothing elsewhere) and the figures it prints.

The Hugging Face, Lightning and Ray Tune examples are run by ``tests/integrations/``; the
third-party plugin is pip-installed by ``tests/test_third_party_install.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EXAMPLES = REPO_ROOT / "examples"
CORPUS = PolysemyCorpus(seed=0, num_train=1, num_val=0, num_test=0)  # for the vocabulary and labels


def run_example(script: str, tmp_path: Path, *args: str, expect_rc: int = 0) -> subprocess.CompletedProcess:
    """Run ``examples/<script> --smoke ARGS`` from ``tmp_path``, on one thread (several
    threads per process fight one another on a small, busy machine)."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == expect_rc, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def run_with_out(script: str, tmp_path: Path, *args: str) -> tuple[str, Path]:
    """The example's stdout and its output folder, checking that it wrote nowhere else."""
    out = tmp_path / "out"
    stdout = run_example(script, tmp_path, "--out", str(out), *args).stdout
    assert sorted(tmp_path.iterdir()) == [out]
    return stdout, out


def figure(pattern: str, text: str) -> float:
    """The number captured by ``pattern`` in the printed ``text``."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def history(folder: Path) -> dict[str, list[float]]:
    return json.loads((folder / "history.json").read_text())


def tensorboard_events(folder: Path) -> list[Path]:
    return list(folder.glob("events.out.tfevents.*"))


def test_quickstart(tmp_path):
    stdout, out = run_with_out("quickstart.py", tmp_path)
    runs = history(out)
    assert len(runs["val_accuracy"]) == 2 and tensorboard_events(out)
    assert runs["collapse_probability"] == sorted(runs["collapse_probability"])  # the linear schedule rises
    saved = torch.load(out / "best_model.pth", weights_only=True)
    assert saved["format"] == "qembed-model" and any(k.startswith("encoder.") for k in saved["model_state"])
    for epoch, accuracy in enumerate(runs["val_accuracy"], start=1):  # the per-epoch table
        assert re.search(rf"^\s+{epoch}\s+\S+\s+{accuracy:.3f}\s", stdout, re.MULTILINE)
    assert 0 <= figure(r"test accuracy ([\d.]+) \(chance 0\.125\)", stdout) <= 1


def test_pretrain_mlm(tmp_path):
    stdout, out = run_with_out("pretrain_mlm.py", tmp_path)
    runs = history(out)
    assert len(runs["train_loss"]) == 2 and "val_loss" not in runs  # pre-training without validation
    state = torch.load(out / "pretrained_quantum_model.pth", weights_only=True)["model_state"]
    assert state["head.3.weight"].shape[0] == CORPUS.vocab_size  # the token-prediction head
    assert 0 <= figure(r"masked-token accuracy ([\d.]+)", stdout) <= 1
    assert figure(r"perplexity ([\d.]+)", stdout) > 1
    assert figure(r"guessing by token frequency: ([\d.]+)", stdout) > 1


def test_finetune(tmp_path):
    stdout, out = run_with_out("finetune.py", tmp_path)
    assert (out / "pretrain" / "pretrained_quantum_model.pth").is_file()
    assert 0 <= figure(r"masked-token accuracy ([\d.]+)", stdout) <= 1
    for start in ("pretrained", "scratch"):
        runs = history(out / start)
        assert 1 <= len(runs["val_accuracy"]) <= 5  # the specification's num_epochs=5 with early stopping
        assert set(runs["collapse_probability"]) == {0.5}  # 'constant'
    pretrained = figure(r"pretrained test accuracy ([\d.]+)", stdout)
    scratch = figure(r"scratch\s+test accuracy ([\d.]+)", stdout)
    assert figure(r"pre-training changes test accuracy by ([-+][\d.]+)", stdout) == pytest.approx(
        pretrained - scratch, abs=1.5e-3)


@pytest.fixture
def examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``examples/`` on ``sys.path``, as it is for a script run from there."""
    monkeypatch.syspath_prepend(str(EXAMPLES))


def save_smoke_masked_lm(path: Path) -> torch.nn.Module:
    """A ``QuantumMaskedLM`` of the examples' smoke shape, saved as ``pretrain_mlm.py`` saves it."""
    from pretrain_mlm import encoder_shape
    from qembed.models import QuantumMaskedLM
    from qembed.training import QuantumTrainer

    masked_lm = QuantumMaskedLM(CORPUS.vocab_size, **encoder_shape(smoke=True))
    QuantumTrainer(masked_lm, "adamw", progress_bar=False).save_model(path)
    return masked_lm


def test_finetune_from_a_given_pretrained_file(tmp_path, examples_importable):
    save_smoke_masked_lm(tmp_path / "mlm.pth")
    out = tmp_path / "out"
    stdout = run_example("finetune.py", tmp_path, "--out", str(out), "--pretrained", str(tmp_path / "mlm.pth")).stdout
    assert sorted(p.name for p in out.iterdir()) == ["pretrained", "scratch"]  # nothing pre-trained here
    assert 0 <= figure(r"pretrained test accuracy ([\d.]+)", stdout) <= 1


def test_continual_learning(tmp_path):
    stdout, out = run_with_out("continual_learning.py", tmp_path)
    results = json.loads((out / "accuracy.json").read_text())
    assert set(results) == {"replay", "no_replay"}
    for name, result in results.items():
        accuracy = result["accuracy"]
        assert len(accuracy) == 3 and all(len(row) == 3 and all(0 <= a <= 1 for a in row) for row in accuracy)
        best_then_final = [max(row[task] for row in accuracy[task:]) - accuracy[-1][task] for task in (0, 1)]
        assert result["forgetting"] == pytest.approx(sum(best_then_final) / 2)
        assert len(history(out / name)["train_loss"]) == 9  # 3 tasks x 3 epochs, one growing history
        printed = re.search(rf"^{name}:.*?forgetting ([\d.]+)", stdout, re.MULTILINE | re.DOTALL)
        assert printed and float(printed.group(1)) == pytest.approx(result["forgetting"], abs=1e-3)


def test_custom_loss(tmp_path):
    stdout, out = run_with_out("custom_loss.py", tmp_path)
    assert "'quantum_aware' comes from plugin 'quantum_aware_loss' registered in code" in stdout
    assert "contract check passed" in stdout
    for folder, label in (("object", r"object, uncertainty_weight=0\.2"),
                          ("by_name", r"by name, uncertainty_weight=1\.0")):
        runs = history(out / folder)
        assert figure(label + r"\s+val accuracy ([\d.]+)", stdout) == pytest.approx(runs["val_accuracy"][-1], abs=1e-3)
        assert figure(label + r".*sense uncertainty ([\d.]+)", stdout) == pytest.approx(runs["uncertainty"][-1],
                                                                                      abs=1e-3)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_own_data(tmp_path):
    stdout, out = run_with_out("own_data.py", tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["model", "reviews.csv", "senses.png"]
    assert (out / "reviews.csv").read_text().splitlines()[0] == "text,label"
    assert 0 <= figure(r"test accuracy ([\d.]+) \(chance 0\.125\)", stdout) <= 1
    reloaded = QuantumClassifier.from_pretrained(out / "model")
    assert reloaded.init_options["num_labels"] == 8
    lines = re.findall(r"^'(.+)': (\w+) \(p [\d.]+, uncertainty [\d.]+\); bank's senses((?: [\d.]+)+)$", stdout, re.M)
    assert [line[0] for line in lines] == ["we saw the teller at the bank with cash",
                                          "the river bank was mud and grass after the rain"]
    for _, label, senses in lines:
        assert label in CORPUS.label_names and sum(map(float, senses.split())) == pytest.approx(1, abs=0.02)
    assert png_size(out / "senses.png")[1] > png_size(out / "senses.png")[0] / 2  # two panels, one above the other


def test_plot_history(tmp_path):
    stdout, out = run_with_out("plot_history.py", tmp_path)
    assert png_size(out / "history.png") == (1200, 400)  # figsize=(12, 4) at 100 dpi
    runs = history(out)
    assert len(runs["train_loss"]) == 3 and tensorboard_events(out)
    assert figure(r"train loss [\d.]+ -> ([\d.]+)", stdout) == pytest.approx(runs["train_loss"][-1], abs=1e-4)
    assert figure(r"quantum loss [\d.]+ -> ([\d.]+)", stdout) == pytest.approx(runs["quantum_loss"][-1], abs=1e-4)


def test_string_names(tmp_path):
    stdout, out = run_with_out("string_names.py", tmp_path)
    listing = json.loads((out / "components.json").read_text())
    assert list(listing) == list(plugins.KINDS)
    for kind, names in listing.items():
        assert set(names) == set(plugins.available(kind))
        assert all(re.search(rf"^  {name}\s", stdout, re.MULTILINE) for name in names)
    assert ("built: optimizer EntanglementOptimizer, loss UncertaintyLoss, schedule CyclicSchedule, collapse "
            "GumbelCollapse, clipping AdaptiveClipping, replay ClassBalancedReplay") in stdout
    assert "collapse probability over 8 steps 0.00 0.50 1.00 0.50 0.00 0.50 1.00 0.50" in stdout
    assert figure(r"val accuracy ([\d.]+)", stdout) == pytest.approx(history(out)["val_accuracy"][-1], abs=1e-3)
    assert 0 < figure(r"replay buffer holds (\d+) sentences", stdout) <= 256


def test_string_names_says_which_name_is_wrong(tmp_path):
    result = run_example("string_names.py", tmp_path, "--out", str(tmp_path / "out"), "--schedule", "cylic",
                         expect_rc=2)
    assert "unknown superposition schedule 'cylic' (did you mean 'cyclic'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_handwritten_loop(tmp_path):
    stdout = run_example("handwritten_loop.py", tmp_path).stdout  # writes no files
    assert list(tmp_path.iterdir()) == []
    assert 0 <= figure(r"val accuracy ([\d.]+)", stdout) <= 1
    assert 0 <= figure(r"test accuracy ([\d.]+) \(chance 0\.125\)", stdout) <= 1
    sense = figure(r"sense accuracy of context_aware collapse ([\d.]+)", stdout)
    assert 0 <= sense <= 1 and not math.isnan(sense)


def test_ablations(tmp_path):
    stdout = run_example("ablations.py", tmp_path, "--models", "quantum,context_free,classical").stdout
    assert list(tmp_path.iterdir()) == []
    lines = stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["quantum", "context_free", "classical"]
    for line in lines:
        assert 0 <= figure(r"accuracy ([\d.]+)", line) <= 1
    assert "sense accuracy" in lines[0] and "sense accuracy" not in lines[2]  # the classical model has no senses
    result = run_example("ablations.py", tmp_path, "--models", "quantm", expect_rc=2)
    assert "unknown 'quantm'" in result.stderr
