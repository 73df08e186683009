"""The docs stay complete and true: every config key, hook, trainer argument, history
key, built-in component (with its options) and TensorBoard tag is documented, and every
code block marked runnable runs.

Runnable blocks: a fenced block whose info string is ``python runnable`` (GitHub renders
it as Python). The blocks of one page run in order, as one module, in a fresh temporary
working directory; a plain ``python`` block is a fragment and is not run (docs/README.md).
"""

from __future__ import annotations

import ast
import inspect
import random
import re
import sys
import textwrap
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import torch

from qembed import plugins
from qembed.plugins import KINDS, hookspecs
from qembed.training import QuantumTrainer, QuantumTrainingConfig
from qembed.training.run_defaults import RunDefaults
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
RUNNABLE = "python runnable"

#: The page that documents each kind of component.
KIND_PAGES = {
    "schedules": "training/schedules.md",
    "losses": "training/losses.md",
    "optimizers": "training/optimizers.md",
    "clipping": "training/optimizers.md",
    "replay": "training/replay.md",
    "collapse": "models.md",
    "lr_schedulers": "training/lr_schedules.md",
    "loggers": "loggers.md",
}


# --- reading the docs ---------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # line of the block's first code line
    info: str
    code: str


_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<code>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.S | re.M)


def code_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, match.start("code")) + 1, match["info"].strip(),
              textwrap.dedent(match["code"]))
        for match in _FENCE.finditer(text)
    ]


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def page(name: str) -> str:
    return (DOCS / name).read_text()


def inline_code(text: str) -> set[str]:
    """The contents of the inline code spans outside fenced blocks."""
    return {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", _FENCE.sub("", text))}


def code_words(text: str) -> set[str]:
    """Identifiers inside inline code spans and fenced blocks."""
    spans = re.findall(r"```.*?```|`[^`]+`", text, re.S)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(spans)))


def section(text: str, heading: str) -> str:
    """The text under the heading ``heading``, up to the next heading of its level or
    higher (``#`` lines inside fenced blocks are not headings)."""
    masked = _FENCE.sub(lambda match: re.sub(r"[^\n]", " ", match[0]), text)
    match = re.search(rf"^(#+) {re.escape(heading)}[ \t]*$", masked, re.M)
    assert match, f"no heading {heading!r}"
    end = re.compile(rf"^#{{1,{len(match[1])}}} ", re.M).search(masked, match.end())
    return text[match.end(): end.start() if end else len(text)]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every markdown table row (header and separator rows included)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([cell.strip() for cell in cells])
    return rows


RUNNABLE_PAGES = [p for p in [README, *doc_pages()] if any(b.info == RUNNABLE for b in code_blocks(p))]


# --- the runnable-block convention --------------------------------------------------


def test_every_python_block_is_runnable_or_a_fragment():
    odd = [f"{b.path.relative_to(REPO_ROOT)}:{b.line}: ```{b.info}"
           for p in [README, *doc_pages()] for b in code_blocks(p)
           if (b.info.split()[:1] in (["py"], ["py3"], ["python"], ["python3"]) or "runnable" in b.info)
           and b.info not in ("python", RUNNABLE)]
    assert odd == [], "use ```python runnable (run by tests/test_docs.py) or ```python (a fragment)"


def test_the_main_pages_have_runnable_blocks():
    pages = {p.relative_to(REPO_ROOT).as_posix() for p in RUNNABLE_PAGES}
    assert {"README.md", "docs/training/README.md", "docs/training/quantum_trainer.md",
            "docs/training/losses.md", "docs/training/optimizers.md", "docs/plugins.md",
            "docs/loggers.md", "docs/measures.md", "docs/plugin_hooks.md"} <= pages


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE_PAGES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_runnable_blocks_run(path, tmp_path, monkeypatch):
    """Each page's runnable blocks, in order, as one module (like a script: classes it
    defines pickle, ``sys.modules[__name__]`` is the page), in an empty folder."""
    where = path.relative_to(REPO_ROOT).as_posix()
    module = types.ModuleType("docs_" + re.sub(r"\W", "_", where))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    registry = plugins.default_registry()
    registered_before = {source.plugin_name for source in registry.sources()}
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            for block in code_blocks(path):
                if block.info == RUNNABLE:
                    exec(compile("\n" * (block.line - 1) + block.code, where, "exec"), module.__dict__)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        for source in registry.sources():  # a page that registered a plugin leaves no trace
            if source.plugin_name not in registered_before and source.distribution is None:
                registry.unregister(source.plugin_name)


# --- configuration --------------------------------------------------------------------


def _configuration_rows() -> dict[str, list[str]]:
    rows = {}
    for cells in table_rows(page("configuration.md")):
        key = re.fullmatch(r"`(\w+)`", cells[0])
        if key and len(cells) == 5:
            rows[key[1]] = cells
    return rows


def test_every_config_key_is_in_the_configuration_table():
    rows = _configuration_rows()
    missing = [f.name for f in attrs.fields(QuantumTrainingConfig) if f.name not in rows]
    assert not missing, missing
    unknown = sorted(set(rows) - {f.name for f in attrs.fields(QuantumTrainingConfig)})
    assert not unknown, unknown


def test_every_config_default_in_the_table_is_the_real_one():
    rows = _configuration_rows()
    wrong = []
    for field in attrs.fields(QuantumTrainingConfig):
        literal = re.match(r"`([^`]+)`", rows[field.name][2])
        documented = ast.literal_eval(literal[1]) if literal else "(no literal)"
        if documented != field.default or type(documented) is not type(field.default):
            wrong.append(f"{field.name}: documented {rows[field.name][2]!r}, real {field.default!r}")
    assert not wrong, wrong


def test_every_component_key_names_the_plugin_kind_it_selects():
    component_keys = {f.name for f in attrs.fields(QuantumTrainingConfig)
                      if getattr(f.validator, "selects_component", False)}
    rows = _configuration_rows()
    kinds = {key: re.findall(r"`(\w+)`", cells[4]) for key, cells in rows.items()}
    assert all(kind in KINDS for listed in kinds.values() for kind in listed), kinds
    missing = [key for key in component_keys if not kinds[key]]
    assert not missing, missing


# --- the run-config schema of `qembed train` ------------------------------------------

#: what docs/cli.md calls the types of a signature's or an attrs field's annotation
_TYPE_WORDS = {"int": "int", "float": "float", "bool": "bool", "str": "string", "Any": "any", "list": "list",
               "dict": "table"}


def _type_words(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else annotation.__name__
    return " or ".join(_TYPE_WORDS[part] for part in text.split(" | ") if part != "None")


def _cli_key_tables() -> dict[str, dict[str, list[str]]]:
    """The key tables under docs/cli.md's "The schema", by section: key -> cells."""
    text = section(page("cli.md"), "The schema")
    tables = {}
    for name, body in re.findall(r"^\*\*`\[(\w+)\]`\*\*(.*?)(?=^\*\*`\[|\Z)", text, re.S | re.M):
        rows = {key[1]: cells for cells in table_rows(body) if (key := re.fullmatch(r"`(\w+)`", cells[0]))}
        if rows:
            tables[name] = rows
    return tables


def _documented_defaults(cell: str) -> list[Any]:
    """The TOML values among a default cell's code spans (``none``, ``from the corpus``: no value)."""
    values = []
    for span in re.findall(r"`([^`]+)`", cell):
        try:
            values.append(tomllib.loads(f"value = {span}")["value"])
        except tomllib.TOMLDecodeError:
            continue  # a name such as `ClassicalClassifier` or `[training] seed`
    return values


#: the text-file keys a config gives as strings (Python also takes a Dataset, a list of dicts, a TextTokenizer)
_TEXT_PATHS = ("train", "validation", "test", "tokenizer")


def _schema_keys() -> dict[str, dict[str, tuple[set[str], list[Any]]]]:
    """Per section, each key's types and defaults (one per model where they differ) as the
    run-config schema defines them; a required key or one filled in from elsewhere has none."""
    from qembed.cli import run_schema

    keys: dict[str, dict[str, tuple[set[str], list[Any]]]] = {"model": {}, "data": {}, "training": {}}

    def add(section_name: str, name: str, annotation: Any, default: Any) -> None:
        types, defaults = keys[section_name].setdefault(name, (set(), []))
        types.add(_type_words(annotation))
        if default not in (None, inspect.Parameter.empty) and default not in defaults:
            defaults.append(default)

    add("model", "name", "str", None)
    add("model", run_schema.ENCODER_FROM, "str", None)
    add("data", "corpus", "str", run_schema.CORPORA[0])
    add("data", "module", "str", None)
    for model in run_schema.MODELS:
        for name, parameter in run_schema.model_parameters(model).items():
            add("model", name, parameter.annotation, parameter.default)
        for parameters in (run_schema.corpus_parameters(), run_schema.loader_parameters(model)):
            for name, parameter in parameters.items():
                add("data", name, parameter.annotation, None if name == "seed" else parameter.default)  # [training] seed
        for name, parameter in {**run_schema.text_parameters(), **run_schema.text_loader_parameters(model)}.items():
            annotation = "str" if name in _TEXT_PATHS else parameter.annotation
            add("data", name, annotation, None if name == "seed" else parameter.default)
    for field in attrs.fields(run_schema.TrainingSection):
        bound = f" >= {field.validator.minimum}" if getattr(field.validator, "minimum", None) is not None else ""
        default = field.default.factory() if isinstance(field.default, attrs.Factory) else field.default
        keys["training"][field.name] = ({_type_words(field.type) + bound}, [] if default is None else [default])
    return keys


def test_the_cli_key_tables_are_the_run_config_schema():
    """Each key of [model], [data] and [training] has a row in docs/cli.md with its type and default."""
    documented, schema = _cli_key_tables(), _schema_keys()
    assert documented.keys() == schema.keys()
    wrong = []
    for section_name, keys in schema.items():
        rows = documented[section_name]
        wrong += [f"[{section_name}] {key}: not documented" for key in keys.keys() - rows.keys()]
        wrong += [f"[{section_name}] {key}: not in the schema" for key in rows.keys() - keys.keys()]
        for key in keys.keys() & rows.keys():
            (types, defaults), cells = keys[key], rows[key]
            if types != {cells[1]}:
                wrong.append(f"[{section_name}] {key}: documented type {cells[1]!r}, real {' / '.join(types)}")
            given = _documented_defaults(cells[2])
            if [(type(v), v) for v in given] != [(type(v), v) for v in defaults]:
                wrong.append(f"[{section_name}] {key}: documented default {cells[2]!r}, real {defaults!r}")
    assert not wrong, wrong


# --- hooks ----------------------------------------------------------------------------


def _hookspecs() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(function) for name, function in vars(hookspecs).items()
            if name.startswith("qembed_") and callable(function)}


def test_every_hook_is_in_the_hooks_page_with_its_arguments():
    text = page("plugin_hooks.md")
    missing = [f"{name}({', '.join(signature.parameters)})" for name, signature in _hookspecs().items()
               if f"`{name}({', '.join(signature.parameters)})`" not in text]
    assert not missing, missing


def _documented_lifecycle_order() -> list[str]:
    rows = table_rows(section(page("plugin_hooks.md"), "Lifecycle hooks, in the order the trainer calls them"))
    return [re.match(r"`(\w+)\(", cells[0])[1] for cells in rows if cells[0].startswith("`qembed_")]


# --- what a real run produces ------------------------------------------------------------


@dataclass
class TinyRun:
    trainer: QuantumTrainer
    history: dict[str, list]
    calls: list[tuple[str, dict[str, Any]]]
    epoch_metrics: dict[str, float]
    scalar_tags: list[str]
    histogram_tags: list[str]
    hparams_tags: list[str]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> TinyRun:
    """Two epochs of a tiny model with validation, separate clipping, a best model,
    checkpoints and TensorBoard, with every lifecycle hook recorded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from qembed import hookimpl
    from qembed.data import PolysemyCorpus
    from qembed.models import QuantumClassifier

    calls: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        @hookimpl
        def qembed_on_train_start(self, trainer):
            calls.append(("qembed_on_train_start", {}))

        @hookimpl
        def qembed_on_log(self, trainer, step, metrics):
            calls.append(("qembed_on_log", {"step": step, "metrics": dict(metrics)}))

        @hookimpl
        def qembed_on_validation_end(self, trainer, epoch, metrics):
            calls.append(("qembed_on_validation_end", {"epoch": epoch, "metrics": dict(metrics)}))

        @hookimpl
        def qembed_on_checkpoint(self, trainer, path):
            calls.append(("qembed_on_checkpoint", {"path": path}))

        @hookimpl
        def qembed_on_epoch_end(self, trainer, epoch, metrics):
            calls.append(("qembed_on_epoch_end", {"epoch": epoch, "metrics": dict(metrics)}))

        @hookimpl
        def qembed_on_train_end(self, trainer, history):
            calls.append(("qembed_on_train_end", {}))

    folder = tmp_path_factory.mktemp("tiny_run")
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=32, num_val=8, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=1, num_layers=1,
                              max_length=32)
    config = {"log_every_n_steps": 1, "quantum_gradient_clipping": True, "separate_clipping": True}
    trainer = QuantumTrainer(model, "quantum", "quantum", config, log_dir=folder / "logs", progress_bar=False,
                             plugins=[Recorder()])
    history = trainer.train(train, val, num_epochs=2, save_best_model=True, model_save_path=folder / "best.pth",
                            checkpoint_dir=folder / "checkpoints")
    during_train = list(calls)  # train_epoch below logs too
    epoch_metrics = trainer.train_epoch(train, epoch=trainer.epoch)
    accumulator = EventAccumulator(str(folder / "logs"), size_guidance={"histograms": 0, "scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    return TinyRun(trainer, dict(history), during_train, epoch_metrics, tags["scalars"], tags["histograms"],
                   list(accumulator.PluginTagToContent("hparams")))


def test_hooks_are_called_in_the_documented_order(tiny_run):
    names = [name for name, _ in tiny_run.calls]
    deduplicated = [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]
    first_epoch = deduplicated[: deduplicated.index("qembed_on_epoch_end") + 1]
    documented = _documented_lifecycle_order()
    assert sorted(documented) == sorted(n for n in _hookspecs() if n.startswith("qembed_on_"))
    assert first_epoch == documented[:-1]
    assert deduplicated[-1] == documented[-1] == "qembed_on_train_end"


def test_every_metric_a_hook_receives_is_in_the_hooks_page(tiny_run):
    text = page("plugin_hooks.md")
    documented = code_words(text) | inline_code(text)
    received = {key for name, arguments in tiny_run.calls for key in arguments.get("metrics", {})
                if name in ("qembed_on_log", "qembed_on_validation_end")}
    missing = sorted(received - documented)
    assert not missing, missing


def test_every_history_train_epoch_and_validate_key_is_in_the_trainer_page(tiny_run):
    history_words = code_words(section(page("training/quantum_trainer.md"), "History keys"))
    missing = sorted(set(tiny_run.history) - history_words)
    assert not missing, missing
    words = code_words(page("training/quantum_trainer.md"))
    validated = {k for name, arguments in tiny_run.calls if name == "qembed_on_validation_end"
                 for k in arguments["metrics"]}
    missing = sorted((set(tiny_run.epoch_metrics) | validated) - words)
    assert not missing, missing


def test_every_trainer_argument_method_and_attribute_is_in_the_trainer_page(tiny_run):
    words = code_words(page("training/quantum_trainer.md"))
    names = set()
    for function in (QuantumTrainer.__init__, QuantumTrainer.train, QuantumTrainer.from_training_arguments):
        names |= set(inspect.signature(function).parameters) - {"self", "cls"}
    names |= {name for name in dir(QuantumTrainer) if not name.startswith("_")}
    names |= {name for name in vars(tiny_run.trainer) if not name.startswith("_")}
    names |= {field.name for field in attrs.fields(RunDefaults)}
    missing = sorted(names - words)
    assert not missing, missing


def _normalised(tag: str, text: str) -> str:
    """A tag as the TensorBoard page documents it: ``epoch/<history key>`` and
    ``hparams/<history key>`` by their pattern, a per-group suffix by ``<role>``."""
    prefix, _, rest = tag.partition("/")
    if prefix in ("epoch", "hparams") and f"`{tag}`" not in text:
        return f"{prefix}/<history key>"
    if f"`{tag}`" not in text and "/" in rest:
        return f"{tag.rsplit('/', 1)[0]}/<role>"
    return tag


def test_every_tensorboard_tag_is_in_the_tensorboard_page(tiny_run):
    text = page("loggers.md")
    history_words = code_words(section(page("training/quantum_trainer.md"), "History keys"))
    missing = sorted({_normalised(tag, text) for tag in tiny_run.scalar_tags + tiny_run.histogram_tags}
                     - inline_code(text))
    assert not missing, missing
    for tag in tiny_run.scalar_tags:  # the patterns stand for history keys only
        prefix, _, rest = tag.partition("/")
        if prefix in ("epoch", "hparams"):
            assert rest in history_words, tag
    assert tiny_run.hparams_tags and "hparams" in text


# --- components -----------------------------------------------------------------------


def _built_in(kind: str) -> dict[str, Any]:
    return {name: registration for name, registration in plugins.available(kind).items()
            if registration.distribution == "qembed"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_built_in_component_is_on_its_kind_page_with_its_options(kind):
    text = page(KIND_PAGES[kind])
    missing = []
    for name, registration in _built_in(kind).items():
        if f"`{name}`" not in text:
            missing.append(name)
        factory = registration.factory
        if not getattr(factory, "__module__", "").startswith("qembed"):
            continue  # torch's own (cross_entropy, adamw, ...): PyTorch documents their options
        for option, parameter in inspect.signature(factory).parameters.items():
            if option in ("self", "params") or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if not re.search(rf"`{option}\b", text):
                missing.append(f"{name}: option {option}")
    assert not missing, missing


def test_every_plugin_kind_is_in_the_plugins_page():
    text = page("plugins.md")
    missing = [kind for kind in KINDS if f"`{kind}`" not in text or f"qembed_register_{kind}" not in text]
    assert not missing, missing


def test_every_contract_check_and_switch_is_in_the_plugins_docs():
    import qembed.plugins.switches as switches
    import qembed.testing

    text = page("plugins.md") + "\n".join(page(p) for p in set(KIND_PAGES.values()))
    names = list(qembed.testing.__all__)
    names += re.findall(r"QEMBED_[A-Z_]+", inspect.getsource(switches))
    words = code_words(text)
    missing = [name for name in names if name not in words]
    for name in qembed.testing.__all__:  # and each check with its real signature on the plugins page
        signature = inspect.signature(getattr(qembed.testing, name))
        plain = signature.replace(parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
                                  return_annotation=signature.empty)
        if f"`{name}{plain}`" not in page("plugins.md"):
            missing.append(f"{name}{plain}")
    assert not missing, missing


def test_every_measure_and_output_field_is_documented():
    import qembed.nn.measures as measures
    from qembed.nn import QuantumOutput

    measures_page = page("measures.md")
    functions = [name for name, value in vars(measures).items()
                 if inspect.isfunction(value) and value.__module__ == measures.__name__ and not name.startswith("_")]
    missing = [name for name in functions if f"`{name}(" not in measures_page]
    assert not missing, missing
    words = code_words(page("models.md"))
    missing = [f for f in QuantumOutput.__dataclass_fields__ if f not in words]
    assert not missing, missing


# --- links ------------------------------------------------------------------------------


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``."""
    masked = _FENCE.sub("", path.read_text())
    headings = re.findall(r"^#+ (.+?)\s*$", masked, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_and_anchor_exists():
    broken = []
    for path in [README, *doc_pages()]:
        text = _FENCE.sub("", path.read_text())
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_the_readme_tour_writes_step_curves_and_a_rerun_gets_its_own_folder(tmp_path, monkeypatch):
    """The tour's first block, run twice: TensorBoard holds per-step curves, and the second run
    writes runs/tour/version_1 instead of mixing into the first run's files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tour = next(block for block in code_blocks(README) if block.info == RUNNABLE)
    monkeypatch.chdir(tmp_path)
    with torch.random.fork_rng(devices=[]):
        for _ in range(2):
            exec(compile(tour.code, "README.md", "exec"), {"__name__": "readme_tour"})
    first, second = tmp_path / "runs" / "tour", tmp_path / "runs" / "tour" / "version_1"
    for folder in (first, second):
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        steps = [event.step for event in events.Scalars("train/loss")]
        assert len(steps) >= 10 and steps == sorted(set(steps)), steps  # one curve per run, never backwards
        assert (folder / "history.json").is_file()
    assert len(list(first.glob("events.out.tfevents.*"))) == 1
