"""What ``import qembed`` does and does not do, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow


def run_python(code: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def test_import_qembed_loads_no_plugins_no_tensorboard_and_scans_no_entry_points():
    run_python(
        """
        import importlib.metadata, sys
        groups = []
        real_entry_points = importlib.metadata.entry_points
        def spy(*args, **kwargs):
            groups.append(kwargs.get("group"))
            return real_entry_points(*args, **kwargs)
        importlib.metadata.entry_points = spy

        import qembed, qembed.training, qembed.models, qembed.data, qembed.integrations
        for framework in ("tensorboard", "transformers", "lightning", "pytorch_lightning", "ray"):
            assert framework not in sys.modules, f"{framework} imported"
        assert "qembed_plugins" not in sys.modules, "built-in plugins imported"
        assert "qembed" not in groups, "entry points scanned at import"

        qembed.plugins.available("schedules")  # the first lookup loads them
        assert "qembed" in groups and "qembed_plugins.schedules" in sys.modules
        """
    )


HIDE_BUILT_INS = """
import sys, warnings

class HideBuiltIns:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "qembed_plugins":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HideBuiltIns())
warnings.simplefilter("ignore")
"""


def test_the_core_without_qembed_plugins_imports_and_lists_no_schedules():
    run_python(
        HIDE_BUILT_INS
        + """
import qembed.plugins as plugins
assert plugins.available("schedules") == {}
failures = plugins.failures()
assert failures and all("qembed_plugins" in f.error for f in failures), failures
try:
    plugins.create("schedules", "linear")
except KeyError as err:
    assert "no schedules registered" in str(err), err
else:
    raise AssertionError("create found a schedule without qembed_plugins")
"""
    )


def test_the_cli_without_qembed_plugins_reports_no_schedules_registered():
    result = run_python(HIDE_BUILT_INS + "\nfrom qembed.cli import main\nsys.exit(main(['plugins']))")
    assert "no schedules registered" in result.stdout
    assert "failed plugins (" in result.stdout and "No module named 'qembed_plugins" in result.stdout
