"""Ray Tune, for real: trials of ``tune_trainable`` on one local Ray instance (2 CPUs),
the seed's snippet as written and corrected, checkpoint-based fault tolerance, and the
example script."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import ray
import torch
from ray import cloudpickle, tune
from ray.tune.error import TuneError

import qembed
from qembed.data import PolysemyCorpus
from qembed.integrations.ray import tune_trainable
from qembed.models import QuantumClassifier
from qembed.training import ConfigError
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

#: The seed's snippet ("### 3. Ray Tune"), verbatim: blank lines inside the function keep its 4 spaces.
SEED_SNIPPET = """import ray
from ray import tune
from qembed.training import QuantumTrainer

def train_with_ray(config):
    trainer = QuantumTrainer(
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        quantum_training_config=config
    )
    
    results = trainer.train(
        train_dataloader=train_loader,
        val_dataloader=val_loader,
        num_epochs=10
    )
    
    tune.report(
        loss=results['val_loss'][-1],
        uncertainty=results['uncertainty'][-1]
    )

# Hyperparameter tuning
analysis = tune.run(
    train_with_ray,
    config={
        "uncertainty_regularization": tune.loguniform(0.01, 0.5),
        "entanglement_training": tune.choice([True, False]),
        "superposition_schedule": tune.choice(['linear', 'cyclic', 'constant'])
    }
)
"""

#: The seed's search space.
SEARCH_SPACE = {
    "uncertainty_regularization": tune.loguniform(0.01, 0.5),
    "entanglement_training": tune.choice([True, False]),
    "superposition_schedule": tune.choice(["linear", "cyclic", "constant"]),
}
CORPUS = PolysemyCorpus(seed=0, num_train=32, num_val=16, num_test=16)  # 2 training batches of 16
EPOCHS = 3


def tiny_model(config=None) -> QuantumClassifier:
    return QuantumClassifier(CORPUS.vocab_size, CORPUS.num_labels, embedding_dim=8, num_heads=1, max_length=32)


def tiny_trainable(**options):
    return tune_trainable(model=tiny_model, data=CORPUS.loaders(batch_size=16)[:2],
                          optimizer={"name": "quantum", "lr": 1e-3}, loss_fn="quantum", num_epochs=EPOCHS,
                          seed=0, **options)


def ray_section_blocks() -> list[str]:
    page = (REPO_ROOT / "docs" / "integrations.md").read_text()
    section = page[page.index("## Ray Tune\n"):]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def ray_address():
    # trials unpickle this module's functions and plugins: send them by value, since a worker
    # finds `tests` only when pytest runs from the repository root
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("RAY_USAGE_STATS_ENABLED", "0")  # tests run offline: no usage report to Ray's server
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield ray.get_runtime_context().gcs_address
        ray.shutdown()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def fit(trainable, tmp_path: Path, *, param_space=SEARCH_SPACE, num_samples=1, max_failures=0) -> tune.ResultGrid:
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=num_samples, metric="val_loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=max_failures)),
    ).fit()


def test_a_two_trial_search_reports_every_epoch_with_a_checkpoint(ray_address, tmp_path):
    grid = fit(tiny_trainable(), tmp_path, num_samples=2)

    assert grid.num_terminated == 2 and grid.num_errors == 0
    for result in grid:
        config = result.config
        assert set(config) == set(SEARCH_SPACE)
        assert 0.01 <= config["uncertainty_regularization"] <= 0.5
        assert config["entanglement_training"] in (True, False)
        assert config["superposition_schedule"] in ("linear", "cyclic", "constant")
        reports = result.metrics_dataframe
        assert list(reports["epoch"]) == list(range(EPOCHS))
        assert list(reports["training_iteration"]) == list(range(1, EPOCHS + 1))
        for name in ("val_loss", "val_accuracy", "uncertainty", "train_loss", "val_uncertainty"):
            assert all(isinstance(v, float) and math.isfinite(v) for v in reports[name]), name
        with result.checkpoint.as_directory() as folder:
            assert sorted(os.listdir(folder)) == ["last.pth"]
            saved = torch.load(Path(folder) / "last.pth", weights_only=True)
        assert saved["epoch"] == EPOCHS and saved["history"]["val_loss"] == list(reports["val_loss"])


def test_a_trial_on_a_reused_actor_runs_as_on_a_fresh_one(ray_address, tmp_path):
    config = {"uncertainty_regularization": 0.1, "entanglement_training": True, "superposition_schedule": "linear"}
    grid = tune.Tuner(
        tiny_trainable(),  # the loaders themselves, not a callable building them
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=2, max_concurrent_trials=1, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()

    assert grid.num_terminated == 2 and grid.num_errors == 0
    first, second = (result.metrics_dataframe for result in grid)
    assert set(first["pid"]) == set(second["pid"])  # one actor ran both trials
    assert list(first["train_loss"]) == list(second["train_loss"])  # the same batches, in the same order
    assert list(first["val_loss"]) == list(second["val_loss"])


class CrashOnce:
    """Fails the validation of epoch ``epoch`` the first time only (a marker file
    remembers across processes), and notes the epoch every ``train()`` starts at."""

    def __init__(self, folder: Path, epoch: int) -> None:
        self.folder, self.epoch = folder, epoch

    @qembed.hookimpl
    def qembed_on_train_start(self, trainer) -> None:
        with open(self.folder / "starts", "a") as starts:
            starts.write(f"{trainer.epoch}\n")

    @qembed.hookimpl
    def qembed_on_validation_end(self, epoch) -> None:
        marker = self.folder / "crashed"
        if epoch == self.epoch and not marker.exists():
            marker.touch()
            raise RuntimeError("simulated crash")


class Rows:
    """Collects the history rows of a run in this process."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    @qembed.hookimpl
    def qembed_on_epoch_end(self, metrics) -> None:
        self.rows.append(dict(metrics))


def test_a_failed_trial_resumes_from_its_last_checkpoint(ray_address, tmp_path):
    config = {"uncertainty_regularization": 0.1, "entanglement_training": True, "superposition_schedule": "cyclic"}
    (tmp_path / "marks").mkdir()
    grid = fit(tiny_trainable(plugins=[CrashOnce(tmp_path / "marks", epoch=2)]), tmp_path / "runs",
               param_space=config, max_failures=1)

    assert grid.num_terminated == 1 and grid.num_errors == 0
    assert (tmp_path / "marks" / "crashed").exists()
    assert (tmp_path / "marks" / "starts").read_text().split() == ["0", "2"]  # the retry starts at epoch 2
    reports = grid[0].metrics_dataframe
    assert list(reports["epoch"]) == [0, 1, 2]
    assert list(reports["training_iteration"]) == [1, 2, 3]
    # the same trial never interrupted, here outside Tune (where tune.report only warns)
    uninterrupted = Rows()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiny_trainable(plugins=[uninterrupted])(config)
    assert list(reports["val_loss"]) == [row["val_loss"] for row in uninterrupted.rows]
    assert list(reports["train_loss"]) == [row["train_loss"] for row in uninterrupted.rows]


def test_a_config_key_nothing_reads_is_named_before_training():
    with pytest.raises(ConfigError, match=r"unused Tune config keys 'uncertainty_regularisation' \(did you mean "
                                          r"'uncertainty_regularization' or 'uncertainty_samples'\?\), 'lr': every key must be"):
        tiny_trainable()({"uncertainty_regularisation": 0.1, "lr": 0.1})


def test_a_search_without_an_optimizer_is_refused_at_once():
    with pytest.raises(TypeError, match="optimizer is None, but every trial trains"):
        tune_trainable(model=tiny_model, data=CORPUS.loaders(batch_size=16)[:2], optimizer=None)


def test_a_key_a_callable_reads_counts_as_used_and_config_keys_override_the_base():
    seen = []

    def optimizer(config):
        seen.append(config["lr"])
        return {"name": "quantum", "lr": config["lr"]}

    trainable = tune_trainable(model=tiny_model, data=CORPUS.loaders(batch_size=16)[:2], optimizer=optimizer,
                               num_epochs=1, loss_fn="quantum", quantum_training_config={"entanglement_training": True})
    with pytest.raises(ConfigError, match=re.escape("['entanglement_training'] must be True or False")):
        trainable({"lr": 0.5, "entanglement_training": "yes"})  # the override reaches the config
    assert seen == [0.5]


def test_an_unused_key_fails_the_trial_under_tune_with_the_message(ray_address, tmp_path):
    grid = fit(tiny_trainable(), tmp_path, param_space={"lr": tune.choice([0.1])})
    assert grid.num_errors == 1
    assert "unused Tune config key 'lr'" in str(grid.errors[0])


def test_bad_arguments_are_refused_when_the_trainable_is_built():
    model = tiny_model()
    with pytest.raises(TypeError, match="an Optimizer object holds one model's parameters"):
        tune_trainable(model=model, data=CORPUS.loaders()[:2], optimizer=QuantumOptimizer(model.parameters()))
    with pytest.raises(ConfigError, match="unknown key 'superposition_schedul'"):
        tune_trainable(model=model, data=(), optimizer="quantum",
                       quantum_training_config={"superposition_schedul": "linear"})
    with pytest.raises(TypeError, match=r"data must be \(train_loader, val_loader\)"):
        tune_trainable(model=model, data=(CORPUS.loaders()[0], None), optimizer="quantum")({})


def seed_namespace() -> dict:
    model = tiny_model()
    train_loader, val_loader, _ = CORPUS.loaders(batch_size=16)
    return {"model": model, "optimizer": QuantumOptimizer(model.parameters(), lr=2e-5),
            "loss_fn": QuantumLoss(uncertainty_weight=0.1), "train_loader": train_loader, "val_loader": val_loader}


def test_the_seeds_snippet_as_written_fails_on_current_ray_at_its_report_call(ray_address, tmp_path, monkeypatch):
    # the snippet passes no storage_path: keep its results out of ~/ray_results
    monkeypatch.setattr("ray.tune.experiment.experiment.DEFAULT_STORAGE_PATH", str(tmp_path))
    assert ray_section_blocks()[0] == SEED_SNIPPET  # the docs show it as written

    with pytest.raises(TuneError, match=r"Trials did not complete.*train_with_ray_"):
        exec(compile(SEED_SNIPPET, "seed: 3. Ray Tune", "exec"), seed_namespace())
    (error,) = tmp_path.rglob("error.txt")
    assert "TypeError: report() got an unexpected keyword argument 'loss'" in error.read_text()


def test_the_seeds_snippet_with_a_dict_report_runs(ray_address, tmp_path, monkeypatch):
    monkeypatch.setattr("ray.tune.experiment.experiment.DEFAULT_STORAGE_PATH", str(tmp_path))
    fixed = ray_section_blocks()[1]
    assert fixed == SEED_SNIPPET.replace(
        "tune.report(\n        loss=results['val_loss'][-1],\n        uncertainty=results['uncertainty'][-1]\n    )",
        'tune.report({\n        "loss": results[\'val_loss\'][-1],\n'
        '        "uncertainty": results[\'uncertainty\'][-1]\n    })',
    )
    namespace = seed_namespace()
    exec(compile(fixed, "docs: the seed's snippet with a dict report", "exec"), namespace)
    (trial,) = namespace["analysis"].trials
    assert trial.status == "TERMINATED" and set(trial.config) == set(SEARCH_SPACE)
    assert math.isfinite(trial.last_result["loss"]) and 0 <= trial.last_result["uncertainty"] <= 1


def shrunk(block: str) -> str:
    """A docs block with tiny data, one trial and two epochs."""
    assert "PolysemyCorpus(seed=0)" in block and "num_epochs=10" in block
    for full, tiny in {"PolysemyCorpus(seed=0)": "PolysemyCorpus(seed=0, num_train=32, num_val=16, num_test=16)",
                       "num_samples=8": "num_samples=1", "num_epochs=10": "num_epochs=2"}.items():
        block = block.replace(full, tiny)
    return block


def test_the_docs_modern_form_runs_and_its_best_checkpoint_loads(ray_address, tmp_path, monkeypatch):
    monkeypatch.setattr("ray.train.constants.DEFAULT_STORAGE_PATH", str(tmp_path))  # RunConfig's default
    modern, load_best, own_trainable = ray_section_blocks()[2:5]
    assert "tune_trainable(" in modern and "get_best_checkpoint" in load_best and "TuneReporter()" in own_trainable
    namespace: dict = {}
    exec(compile(shrunk(modern), "docs: tune_trainable", "exec"), namespace)
    assert namespace["results"].num_terminated == 1 and namespace["best"].metrics["training_iteration"] == 2
    exec(compile(load_best, "docs: the best checkpoint", "exec"), namespace)
    exec(compile(shrunk(own_trainable), "docs: a trainable of your own", "exec"), namespace)
    grid = fit(namespace["train_with_ray"], tmp_path / "own")
    assert grid.num_terminated == 1 and list(grid[0].metrics_dataframe["epoch"]) == [0, 1]
    assert sorted(os.listdir(grid[0].checkpoint.path)) == ["last.pth"]


@pytest.mark.slow
def test_the_example_script_runs_a_smoke_search(ray_address, tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "ray_tune_search.py"), "--smoke",
         "--storage-path", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
        env={**os.environ, "RAY_ADDRESS": ray_address},  # joins this cluster instead of starting one
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "best trial:" in result.stdout
