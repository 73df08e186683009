"""The import rules of docs/architecture.md, checked on the source: each module's
module-level imports (not those inside functions, nor under ``if TYPE_CHECKING:``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qembed.plugins import hookspecs
from qembed.plugins.kinds import KIND_TABLE, registration_hook
from qembed.testing.contracts import CHECKS
from tests.conftest import REPO_ROOT

PACKAGES = ("qembed", "qembed_plugins")

#: layer -> the qembed layers its modules may import at module level (besides itself).
ALLOWED = {
    "qembed": {"qembed.plugins"},
    "qembed.arguments": set(),
    "qembed.plugins": set(),
    "qembed.nn": {"qembed", "qembed.arguments", "qembed.plugins"},
    "qembed.metrics": {"qembed.nn"},
    "qembed.data": {"qembed.arguments"},
    "qembed_plugins": {"qembed", "qembed.arguments", "qembed.plugins", "qembed.nn", "qembed.metrics",
                       "qembed.training"},
    "qembed.training": {"qembed.arguments", "qembed.plugins", "qembed.nn", "qembed.metrics", "qembed_plugins"},
    "qembed.models": {"qembed.arguments", "qembed.nn", "qembed.metrics", "qembed.training"},
    "qembed.testing": {"qembed.plugins", "qembed.nn", "qembed.training"},
    "qembed.inference": {"qembed.arguments", "qembed.nn", "qembed.metrics", "qembed.training", "qembed.models",
                         "qembed.data"},
    "qembed.plotting": set(),
    "qembed.integrations": {"qembed", "qembed.plugins", "qembed.nn", "qembed.metrics", "qembed.training",
                            "qembed.models", "qembed.data"},
}
#: The top: the command line and ``python -m qembed`` may import every layer.
TOP = {"qembed.cli", "qembed.__main__"}
#: The modules of qembed.training that qembed_plugins may import: the vocabulary of its
#: components (loss terms, example batches, the model-output field reader), which import no
#: qembed_plugins module back.
PLUGIN_VOCABULARY = {"qembed.training.loss_terms", "qembed.training.examples", "qembed.training.batches"}
#: The facades of qembed.training that re-export built-ins (``from qembed.training.losses import QuantumLoss``).
PLUGIN_FACADES = {"qembed.training.losses", "qembed.training.optimizers"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "qembed_plugins" or len(parts) == 1 else ".".join(parts[:2])


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imported_at_import_time(source: str, package: str) -> set[str]:
    """The qembed and qembed_plugins modules ``source`` (a module of ``package``) imports
    when it is imported: every import statement outside functions and ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.update(_submodule_or_package(base, alias.name) for alias in child.names)
            else:
                visit(child)

    visit(ast.parse(source))
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _submodule_or_package(base: str, name: str) -> str:
    """``from base import name``: the module ``base.name`` when it exists, else ``base``."""
    candidate = REPO_ROOT.joinpath(*base.split("."), name)
    return f"{base}.{name}" if candidate.with_suffix(".py").exists() or candidate.is_dir() else base


def import_graph() -> dict[str, set[str]]:
    """Every module of qembed and qembed_plugins -> what it imports at import time."""
    graph = {}
    for path in (path for package in PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        graph[module] = imported_at_import_time(path.read_text(), package)
    return graph


GRAPH = import_graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_the_layers_beneath_its_own(module):
    layer = layer_of(module)
    if layer in TOP:
        return
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted(name for name in GRAPH[module] if layer_of(name) not in allowed)
    assert not wrong, f"{module} (layer {layer}) imports {wrong} at import time; allowed: {sorted(allowed)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer_of(m) == "qembed_plugins"))
def test_the_built_in_plugins_use_only_the_vocabulary_of_the_training_layer(module):
    used = {name for name in GRAPH[module] if layer_of(name) == "qembed.training"}
    assert used <= PLUGIN_VOCABULARY, f"{module} imports {sorted(used - PLUGIN_VOCABULARY)}"


@pytest.mark.parametrize("module", sorted(PLUGIN_VOCABULARY))
def test_the_training_vocabulary_does_not_import_the_plugins_back(module):
    back = {name for name in GRAPH[module] if layer_of(name) == "qembed_plugins"
            or (layer_of(name) == "qembed.training" and name not in PLUGIN_VOCABULARY)}
    assert not back, f"{module} imports {sorted(back)}: a cycle through qembed_plugins"


def test_only_the_facades_of_the_training_layer_import_the_built_in_plugins():
    importers = {module for module, names in GRAPH.items()
                 if layer_of(module) == "qembed.training" and any(layer_of(n) == "qembed_plugins" for n in names)}
    assert importers == PLUGIN_FACADES


def test_the_scan_sees_module_level_imports_only():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import qembed.nn.roles\n"
        "from qembed import plugins, hookimpl\n"
        "from . import trainer\n"
        "if TYPE_CHECKING:\n    from qembed.cli import main\n"
        "try:\n    import qembed.data\nexcept ImportError:\n    pass\n"
        "def later():\n    import qembed.integrations.ray\n"
    )
    assert imported_at_import_time(source, "qembed.training") == {
        "qembed.nn.roles", "qembed.plugins", "qembed", "qembed.training.trainer", "qembed.data"}


@pytest.mark.parametrize("kind", KIND_TABLE, ids=lambda kind: kind.name)
def test_every_component_kind_has_its_contract_hook_and_check(kind):
    """A kind is its row in qembed.plugins.kinds plus these three pieces; a new row without one fails here."""
    assert getattr(kind.contract, "_is_protocol", False), f"{kind.name}: {kind.contract} is not a Protocol"
    assert callable(getattr(hookspecs, registration_hook(kind.name), None)), (
        f"{kind.name}: no {registration_hook(kind.name)} in qembed/plugins/hookspecs.py")
    assert kind.name in CHECKS, f"{kind.name}: no contract check in qembed/testing/contracts.py CHECKS"
