"""``qembed plot``, ``qembed schedule plot`` and ``qembed plugins check``: the images
they write hold the data, the checks pass for every built-in and fail for broken
plugins, and every error is one line with exit code 2."""

from __future__ import annotations

import json
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qembed import hookimpl, plugins
from qembed.cli import main, plugins_command
from qembed.cli.schedule_command import build_schedules
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.nn import CollapseStrategy
from qembed.plotting import PANELS, plot_history, plot_schedules, read_history
from qembed.plugins import KINDS, PluginRegistry
from qembed.testing import temporary_plugin
from qembed.training import QuantumTrainer
from tests.conftest import REPO_ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of a real two-epoch training run (``history.json`` in its log_dir)."""
    folder = tmp_path_factory.mktemp("runs") / "first"
    corpus = PolysemyCorpus(seed=0, num_train=48, num_val=16, num_test=8)
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    trainer = QuantumTrainer(model, "quantum", {"name": "quantum", "uncertainty_weight": 0.05},
                             {"superposition_schedule": "linear"}, log_dir=folder, progress_bar=False)
    train, val, _ = corpus.loaders(batch_size=16)
    trainer.train(train, val, num_epochs=2)
    return folder


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, read from its header (after checking the signature)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def axes_by_title(figure) -> dict:
    return {ax.get_title(): ax for ax in figure.axes}


def curves(ax) -> dict[str, tuple[list[float], list[float]]]:
    """Legend label -> (x, y) of each line of an axes."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def assert_one_line_error(capsys: pytest.CaptureFixture, code: int, *expected: str) -> None:
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("qembed: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    for text in expected:
        assert text in captured.err


# --- qembed plot RUN_DIR -------------------------------------------------------------


def test_plot_writes_a_png_of_the_run_curves_into_the_run_folder(run_dir, capsys):
    assert main(["plot", str(run_dir)]) == 0
    image = run_dir / "curves.png"
    assert capsys.readouterr().out == f"wrote {image}\n"
    width, height = png_size(image)
    assert width >= 1200 and height >= 600 and image.stat().st_size > 20_000


def test_plot_writes_where_output_says_and_takes_the_history_file_itself(run_dir, tmp_path, capsys):
    image = tmp_path / "new" / "folder" / "run.png"
    assert main(["plot", str(run_dir / "history.json"), "--output", str(image)]) == 0
    assert png_size(image)[0] >= 1200
    assert capsys.readouterr().out == f"wrote {image}\n"


def test_the_figure_holds_the_history_per_epoch_train_and_validation_on_the_same_axes(run_dir):
    history = json.loads((run_dir / "history.json").read_text())
    figure = plot_history(read_history(run_dir), title="run")
    panels = axes_by_title(figure)
    assert list(panels) == [panel.title for panel in PANELS]
    for panel in PANELS:
        ax = panels[panel.title]
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == panel.ylabel
        drawn = curves(ax)
        for key, label in panel.curves:
            assert drawn[label] == (history["epoch"], history[key]), (panel.title, key)  # epochs from 0
    loss = curves(panels["Loss"])
    assert set(loss) == {"train", "validation", f"lowest val_loss: epoch {history['val_loss'].index(min(history['val_loss']))}"}
    assert figure.get_suptitle() == "run (2 epochs)"


def test_a_run_without_validation_plots_the_train_curves_only():
    history = {"train_loss": [1.2, 0.8, 0.7], "quantum_loss": [0.1, 0.09, 0.08], "uncertainty": [0.9, 0.8, 0.7],
               "collapse_probability": [0.2, 0.5, 0.8], "epoch": [0, 1, 2]}
    panels = axes_by_title(plot_history(history))
    assert list(panels) == ["Loss", "Uncertainty", "Quantum loss", "Collapse probability"]
    assert curves(panels["Loss"]) == {"train": ([0, 1, 2], [1.2, 0.8, 0.7])}
    assert panels["Collapse probability"].get_ylim() == pytest.approx((-0.03, 1.03))


def test_a_run_resumed_for_more_epochs_numbers_them_on():
    history = {"train_loss": [0.5, 0.4], "val_loss": [float("nan"), 0.45], "epoch": [3, 4]}
    panels = axes_by_title(plot_history(history))
    assert curves(panels["Loss"])["train"][0] == [3, 4]  # numbered from 0, as the history numbers them
    assert "lowest val_loss: epoch 4" in curves(panels["Loss"])


def test_plot_errors_are_one_line_with_exit_code_2(run_dir, tmp_path, capsys):
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "nowhere")]), "run folder", "does not exist")

    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "history.json").write_text('{"train_loss": [1.0]}')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "runs")]), "no history.json in",
                          f"run folders inside it: '{tmp_path / 'runs' / 'a'}'")

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "history.json").write_text('{"train_loss": [1.0,')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "broken")]), "is not valid JSON")

    (tmp_path / "broken" / "history.json").write_text('[1, 2]')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "broken")]), "is not a training history")

    (tmp_path / "broken" / "history.json").write_text('{"lr": [0.1]}')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "broken")]), "no epoch to plot")

    (tmp_path / "broken" / "history.json").write_text('{"train_loss": [0.9, null]}')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "broken")]), "'train_loss' holds None, not a number")

    (tmp_path / "broken" / "history.json").write_text('{"train_loss": [0.9, 0.8, 0.7], "epoch": [0, 1]}')
    assert_one_line_error(capsys, main(["plot", str(tmp_path / "broken")]),
                          "the history's 'train_loss' has 3 values but 'epoch' only 2")

    assert_one_line_error(capsys, main(["plot", str(run_dir), "-o", str(run_dir / "history.json" / "x.png")]),
                          f"'{run_dir / 'history.json'}' is a file, not a folder")


def test_a_history_that_cannot_be_read_is_a_one_line_error(run_dir, monkeypatch, capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    assert_one_line_error(capsys, main(["plot", str(run_dir)]), "cannot read", "Permission denied")


def test_without_matplotlib_plotting_is_a_one_line_error_naming_the_extra(run_dir, monkeypatch, capsys):
    for name in [name for name in sys.modules if name.startswith(("qembed.plotting", "matplotlib"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert_one_line_error(capsys, main(["plot", str(run_dir)]), "pip install 'qembed[plot]'")
    assert_one_line_error(capsys, main(["schedule", "plot", "linear"]), "pip install 'qembed[plot]'")


@pytest.mark.slow
def test_importing_qembed_and_its_command_line_does_not_import_matplotlib():
    code = "import sys, qembed, qembed.cli; qembed.cli.build_parser(); assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- qembed schedule plot ------------------------------------------------------------


class Warmup:
    """A third-party schedule: rises to 1 over ``warmup_steps``, then stays."""

    def __init__(self, warmup_steps: int = 10) -> None:
        self.warmup_steps = warmup_steps

    def __call__(self, step: int, total_steps: int) -> float:
        return min(1.0, step / self.warmup_steps)


class WarmupPlugin:
    @hookimpl
    def qembed_register_schedules(self):
        return {"warmup": Warmup}


def test_schedule_plot_draws_every_built_in_schedule(tmp_path, capsys):
    image = tmp_path / "schedules.png"
    assert main(["schedule", "plot", "linear", "cyclic:cycle_steps=4", "constant", "--steps", "8",
                 "-o", str(image)]) == 0
    assert capsys.readouterr().out == f"wrote {image}\n"
    width, height = png_size(image)
    assert width >= 1200 and height >= 300


def test_the_schedule_figure_holds_each_schedule_at_every_step():
    specs = ["linear", "cyclic:cycle_steps=4", "constant:value=0.25"]
    figure = plot_schedules(build_schedules(specs), steps=5)
    panels = axes_by_title(figure)
    assert list(panels) == specs
    ys = {title: list(ax.get_lines()[0].get_ydata()) for title, ax in panels.items()}
    assert ys == {"linear": [0.0, 0.25, 0.5, 0.75, 1.0], "cyclic:cycle_steps=4": [0.0, 0.5, 1.0, 0.5, 0.0],
                  "constant:value=0.25": [0.25] * 5}
    assert all(ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "collapse probability"
               for ax in figure.axes)


def test_schedule_plot_draws_a_third_party_schedule(tmp_path):
    image = tmp_path / "warmup.png"
    with temporary_plugin(WarmupPlugin()):
        assert main(["schedule", "plot", "warmup:warmup_steps=5", "linear", "--steps", "20", "-o", str(image)]) == 0
        figure = plot_schedules([("warmup", plugins.create("schedules", "warmup", warmup_steps=5))], steps=20)
    assert png_size(image)[0] >= 800
    assert list(figure.axes[0].get_lines()[0].get_ydata()) == [min(1.0, s / 5) for s in range(20)]


def test_schedule_plot_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    out = str(tmp_path / "s.png")
    assert_one_line_error(capsys, main(["schedule", "plot", "lineer", "-o", out]), "did you mean 'linear'?")
    assert_one_line_error(capsys, main(["schedule", "plot", "constant:value=1.5", "-o", out]),
                          "value must be in [0, 1], got 1.5")
    assert not Path(out).exists()
    (tmp_path / "folder.png").mkdir()
    assert_one_line_error(capsys, main(["schedule", "plot", "linear", "-o", str(tmp_path / "folder.png")]),
                          "Is a directory")


def test_an_image_path_without_a_suffix_is_written_as_png_and_reported_as_written(tmp_path, capsys):
    assert main(["schedule", "plot", "linear", "--steps", "4", "-o", str(tmp_path / "schedules")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'schedules.png'}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["schedules.png"] and png_size(tmp_path / "schedules.png")


def test_the_schedules_page_shows_the_image_its_command_regenerates(tmp_path, capsys):
    page = (REPO_ROOT / "docs" / "training" / "schedules.md").read_text()
    [command] = re.findall(r"^qembed schedule plot .*$", page, re.M)
    argv = shlex.split(command)[1:]
    image = argv[argv.index("--output") + 1]
    assert f"](../images/{Path(image).name})" in page
    assert png_size(REPO_ROOT / image)[0] >= 1200
    argv[argv.index("--output") + 1] = str(tmp_path / "schedules.png")
    assert main(argv) == 0
    assert png_size(tmp_path / "schedules.png") == png_size(REPO_ROOT / image)


# --- qembed plugins check NAME -------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_plugins_check_passes_every_built_in_of_each_kind(kind, capsys):
    assert main(["plugins", "check", kind, "--max-examples", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    built_ins = sorted(name for name, reg in plugins.available(kind).items() if reg.distribution == "qembed")
    checked = sorted(line.split()[2] for line in lines if line.startswith("PASS"))
    assert checked == built_ins and all(line.split()[1] == kind for line in lines[:-1])
    assert lines[-1] == f"{len(built_ins)} passed, 0 failed"


def test_plugins_check_by_component_name_checks_it_in_every_kind(capsys):
    assert main(["plugins", "check", "quantum", "--max-examples", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines[:-1]] == [["PASS", "losses", "quantum"],
                                                         ["PASS", "optimizers", "quantum"]]


class OverflowingSchedule:
    def __call__(self, step: int, total_steps: int) -> float:
        return 1.5


class LearningRateIgnoringSGD(torch.optim.SGD):
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.data.add_(param.grad, alpha=-0.1)


class HardCollapse(CollapseStrategy):
    def forward(self, probabilities, agreement, attention_mask):
        return torch.nn.functional.one_hot(probabilities.argmax(-1), probabilities.shape[-1]).float()


class NeedsAnOption:
    def __init__(self, period: int) -> None:
        self.period = period


class BrokenPlugin:
    @hookimpl
    def qembed_register_schedules(self):
        return {"overflowing": OverflowingSchedule, "needs_period": NeedsAnOption}

    @hookimpl
    def qembed_register_optimizers(self):
        return {"lr_ignoring": LearningRateIgnoringSGD}

    @hookimpl
    def qembed_register_collapse(self):
        return {"hard_no_gradient": HardCollapse}


@pytest.mark.parametrize(("name", "kind", "reason"), [
    ("overflowing", "schedules", "returned 1.5, outside [0, 1]"),
    ("needs_period", "schedules", "TypeError"),
    ("lr_ignoring", "optimizers", "a step with lr=0 in every parameter group moved it"),
    ("hard_no_gradient", "collapse", "no gradient reaches the probabilities"),
])
def test_plugins_check_reports_a_broken_component_and_exits_1(name, kind, reason, capsys):
    with temporary_plugin(BrokenPlugin()):
        assert main(["plugins", "check", name, "--max-examples", "10"]) == 1
    out = capsys.readouterr().out
    first, *details, summary = out.splitlines()
    assert first.split()[:3] == ["FAIL", kind, name] and "registered in code" in first
    assert details and reason in "\n".join(details)
    assert summary == "0 passed, 1 failed"


def test_plugins_check_names_a_distribution_and_reports_one_that_did_not_load(make_distribution, monkeypatch,
                                                                                capsys):
    make_distribution("warmup-schedules", "1.2", {"warmup": "warmup_plugin"}, {"warmup_plugin": """
        from qembed import hookimpl

        class Ramp:
            def __call__(self, step, total_steps):
                return step / total_steps

        @hookimpl
        def qembed_register_schedules():
            return {"ramp": Ramp}
        """})
    make_distribution("broken-plugin", "0.9", {"broken": "broken_plugin"},
                      {"broken_plugin": "raise ImportError('cannot start')"})
    fresh = PluginRegistry()
    monkeypatch.setattr(plugins_command, "default_registry", lambda: fresh)

    assert main(["plugins", "check", "warmup_schedules", "--max-examples", "5"]) == 0
    first, summary = capsys.readouterr().out.splitlines()
    assert first.split()[:3] == ["PASS", "schedules", "ramp"] and "warmup-schedules 1.2" in first
    assert summary == "1 passed, 0 failed"

    assert main(["plugins", "check", "broken"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL  broken-plugin 0.9 (broken = broken_plugin) did not load: ImportError: cannot start",
        "0 passed, 1 failed",
    ]


def test_plugins_check_of_a_plugin_without_components_says_so(make_distribution, monkeypatch, capsys):
    make_distribution("log-watcher", "1.0", {"watcher": "log_watcher"}, {"log_watcher": """
        from qembed import hookimpl

        @hookimpl
        def qembed_on_log(trainer, step, metrics):
            pass
        """})
    fresh = PluginRegistry()
    monkeypatch.setattr(plugins_command, "default_registry", lambda: fresh)
    assert main(["plugins", "check", "log-watcher"]) == 0
    assert capsys.readouterr().out.startswith("nothing to check: log-watcher 1.0 ")


def test_plugins_check_of_an_unknown_name_is_a_one_line_error_with_a_suggestion(capsys):
    assert_one_line_error(capsys, main(["plugins", "check", "lineer"]), "no plugin or component named 'lineer'",
                          "did you mean 'linear'?")
