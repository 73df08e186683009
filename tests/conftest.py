"""Shared fixtures: a Hypothesis profile and throwaway plugin distributions."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from qembed.plugins import PluginRegistry

# The tests' tensors are tiny: one thread avoids thread start-up costs that dominate
# them on a loaded 2-core machine.
torch.set_num_threads(1)

# torch's first calls are slow; a deadline would make property tests flaky.
settings.register_profile("qembed", deadline=None, max_examples=100)
settings.load_profile("qembed")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def offline_loggers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing a test logs leaves the machine: W&B offline, MLflow into a local file store
    (MLflow 3 keeps the file store behind ``MLFLOW_ALLOW_FILE_STORE``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "offline")
        patch.setenv("WANDB_SILENT", "true")
        patch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path_factory.mktemp('mlruns')}")
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        yield


@pytest.fixture
def registry() -> PluginRegistry:
    """A fresh registry that loads entry points from the current ``sys.path``."""
    return PluginRegistry()


@pytest.fixture
def make_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Write a real installed distribution (``*.dist-info`` with ``METADATA`` and
    ``entry_points.txt``, plus its modules) into a folder put on ``sys.path``.

    ``make_distribution("my-plugin", "1.0", {"plugin": "my_plugin_mod"},
    {"my_plugin_mod": "source"})`` declares ``plugin = my_plugin_mod`` under the
    ``qembed`` group. Each call gets its own folder, so one distribution name can
    be written twice (found twice on ``sys.path``).
    """
    created_modules: set[str] = set()
    count = 0

    def make(name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"site{count}"
        root.mkdir()
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created_modules.add(module)
        dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[qembed]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(root))
        return root

    yield make
    for module in created_modules:
        sys.modules.pop(module, None)
