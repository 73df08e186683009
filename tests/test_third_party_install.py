"""The example third-party plugin, pip-installed for real and used by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Install the example with pip into a fresh folder; returns the environment
    in which it is importable (offline, no build isolation)."""
    root = tmp_path_factory.mktemp("third_party")
    source = root / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert list(target.glob("qembed_cosine_schedule-1.2.0.dist-info/entry_points.txt"))
    return {**os.environ, "PYTHONPATH": str(target), "QEMBED_TEST_SOURCE": str(source)}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_installed_plugin_is_created_by_name(installed):
    code = (
        "import qembed.plugins as p; s = p.create('schedules', 'cosine_ramp', power=2.0);"
        "print(type(s).__module__, s(0, 11), s(10, 11))"
    )
    out = run([sys.executable, "-c", code], installed).stdout.split()
    assert out == ["qembed_cosine_schedule.plugin", "0.0", "1.0"]


def test_qembed_plugins_shows_its_distribution_and_version(installed):
    script = str(Path(sys.executable).with_name("qembed"))
    listing = json.loads(run([script, "plugins", "--json"], installed).stdout)
    entry = next(e for e in listing["kinds"]["schedules"] if e["name"] == "cosine_ramp")
    assert (entry["distribution"], entry["version"]) == ("qembed-cosine-schedule", "1.2.0")
    table = run([script, "schedule", "table", "cosine_ramp", "--steps", "3"], installed).stdout
    assert table.split()[-1] == "1.0000"


def test_the_plugins_own_contract_tests_pass(installed):
    tests = Path(installed["QEMBED_TEST_SOURCE"]) / "tests"
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], installed)
