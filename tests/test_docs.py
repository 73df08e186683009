"""The docs stay true: every config key, hook and built-in plugin name is documented,
and the runnable code blocks run."""

from __future__ import annotations

import re

import attrs
import pytest

from qembed import plugins
from qembed.plugins import KINDS, hookspecs
from qembed.training import QuantumTrainingConfig
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def all_docs() -> str:
    return "\n".join(path.read_text() for path in DOCS.rglob("*.md"))


def test_every_config_key_is_in_the_configuration_page():
    page = (DOCS / "configuration.md").read_text()
    missing = [f.name for f in attrs.fields(QuantumTrainingConfig) if f"`{f.name}`" not in page]
    assert missing == []


def test_every_hook_is_in_the_hooks_page():
    page = (DOCS / "plugin_hooks.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("qembed_")]
    assert [hook for hook in hooks if hook not in page] == []


def test_every_built_in_component_name_is_documented():
    text = all_docs()
    missing = [
        f"{kind}:{name}"
        for kind in KINDS
        for name, registration in plugins.available(kind).items()
        if registration.distribution == "qembed" and f"`{name}`" not in text
    ]
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("page", ["training/README.md"])
def test_runnable_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S):
        exec(compile(block, page, "exec"), namespace)
