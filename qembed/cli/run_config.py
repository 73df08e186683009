"""The run-config file of ``qembed train``: its schema, and reading it from TOML or YAML.

A run config names every part of a training run by string names and options:
``[model]``, ``[data]``, ``[optimizer]``, ``[loss]``, ``[lr_scheduler]``, ``[quantum]`` (the
``quantum_training_config``) and ``[training]``. :func:`load_run_config` checks all of it
before anything is built: an unknown section or key is named with close matches, a bad value
with the message the Python API gives, each prefixed with the file and the section
(``polysemy.toml: [training] epochs must be an integer >= 1, got 0``).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from string import Formatter
from typing import Any

import attrs
import yaml
from torch.optim import lr_scheduler

from qembed import models
from qembed.arguments import check_int
from qembed.cli.messages import one_line
from qembed.data import PolysemyCorpus
from qembed.models.encoder import QuantumEncoder
from qembed.plugins import PluginComponentError, PluginError, PluginHookError
from qembed.plugins.errors import did_you_mean
from qembed.training import QuantumTrainingConfig
from qembed.training.config import ConfigError

SECTIONS = ("model", "data", "optimizer", "loss", "lr_scheduler", "quantum", "training")
REQUIRED_SECTIONS = ("model", "optimizer")
#: sections that may be a bare name: ``optimizer = "adamw"`` is ``[optimizer] name = "adamw"``
NAMED_SECTIONS = ("model", "optimizer", "loss", "lr_scheduler")
#: the ready models, each with the ``PolysemyCorpus`` method that makes its loaders
MODELS = {"QuantumClassifier": "loaders", "QuantumMaskedLM": "mlm_loaders", "ClassicalClassifier": "loaders"}
CORPORA = ("polysemy",)
#: model arguments the embedded corpus supplies
DATA_SIZES = ("vocab_size", "num_labels")
#: the ``torch.optim.lr_scheduler`` classes whose options are plain values and that step
#: without an argument (the trainer steps its scheduler after every optimizer step)
LR_SCHEDULERS = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
                 "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR")
LOG_DIR_FIELDS = ("name", "timestamp")


class RunConfigError(ConfigError):
    """A run config that cannot be read or used; the message names the file and section."""


@contextmanager
def blame(source: str, section: str) -> Iterator[None]:
    """Re-raise a bad value's error, the Python API's own message, as a
    :class:`RunConfigError` naming the file and the section."""
    try:
        yield
    except (RunConfigError, PluginComponentError, PluginHookError):  # a plugin's failure is not the file's
        raise
    except (PluginError, ValueError, TypeError, KeyError) as err:
        raise RunConfigError(f"{source}: [{section}] {one_line(err)}") from err


# --- the schema -----------------------------------------------------------------------


def _integer(minimum: int | None = None) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        check_int(attribute.name, value, minimum=minimum)

    return check


def _boolean(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}")


def _optional_string(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{attribute.name} must be a string, got {value!r}")


def _log_dir_template(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"log_dir must be a folder path, got {value!r}")
    try:
        fields = [(field, spec, conversion) for _, field, spec, conversion in Formatter().parse(value)
                  if field is not None]
    except ValueError as err:  # a lone brace
        raise ConfigError(f"log_dir {value!r}: {err} (double a brace to write it literally)") from None
    for field, spec, conversion in fields:
        if field not in LOG_DIR_FIELDS:
            raise ConfigError(f"log_dir uses {{{field}}}; it may use {{name}} and {{timestamp}} "
                              "(double a brace to write it literally)")
        if spec or conversion:
            raise ConfigError(f"log_dir {value!r}: write {{{field}}} plainly, without !conversion or :format")


@attrs.frozen(kw_only=True)
class ModelSection:
    """``[model]``: a model of :mod:`qembed.models` by class name, with its keyword options."""

    name: str
    options: dict[str, Any]


@attrs.frozen(kw_only=True)
class DataSection:
    """``[data]``: the embedded corpus with its corpus and loader options, or a user
    ``module`` whose ``build(**module_options)`` returns ``(train_loader, val_loader)``."""

    corpus: str | None = None
    corpus_options: dict[str, Any] = attrs.Factory(dict)
    loader_options: dict[str, Any] = attrs.Factory(dict)
    module: str | None = None
    module_options: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class TrainingSection:
    """``[training]``: what ``QuantumTrainer(...)`` and ``trainer.train(...)`` take
    besides the components, and where the run folder goes."""

    epochs: int = attrs.field(default=10, validator=_integer(1))
    seed: int = attrs.field(default=0, validator=_integer())
    device: str | None = attrs.field(default=None, validator=_optional_string)
    log_dir: str = attrs.field(default="runs/{name}-{timestamp}", validator=_log_dir_template)
    checkpoints: bool = attrs.field(default=True, validator=_boolean)
    keep_best_checkpoint: bool = attrs.field(default=True, validator=_boolean)
    save_best_model: bool = attrs.field(default=False, validator=_boolean)
    early_stopping_patience: int | None = attrs.field(default=None,
                                                      validator=attrs.validators.optional(_integer(0)))
    progress_bar: bool = attrs.field(default=True, validator=_boolean)


@attrs.frozen(kw_only=True)
class RunConfig:
    """A checked run config. ``source`` is the file (for messages), ``name`` its stem
    (``{name}`` in ``log_dir``); component sections are ``{"name": ..., **options}`` specs."""

    source: str
    name: str
    model: ModelSection
    data: DataSection
    optimizer: dict[str, Any]
    loss: dict[str, Any] | None
    lr_scheduler: dict[str, Any] | None
    quantum: QuantumTrainingConfig
    training: TrainingSection

    def new_run_dir(self, timestamp: str) -> Path:
        """The run folder ``[training] log_dir`` names for a new run started at ``timestamp``.
        With ``{timestamp}`` in ``log_dir``, a folder that exists already (a run started in
        the same second) gives way to ``<timestamp>-2``, ``-3``, ..."""
        def folder(stamp: str) -> Path:
            return Path(self.training.log_dir.format(name=self.name, timestamp=stamp))

        uses_timestamp = any(field == "timestamp" for _, field, _, _ in Formatter().parse(self.training.log_dir))
        run_dir, count = folder(timestamp), 1
        while uses_timestamp and run_dir.exists():
            count += 1
            run_dir = folder(f"{timestamp}-{count}")
        return run_dir

    def to_dict(self, run_dir: Path) -> dict[str, Any]:
        """The resolved config, defaults filled in and ``log_dir`` set to ``run_dir``: a
        file ``qembed train`` reads back (``--resume`` a run with it)."""
        sized = DATA_SIZES if self.data.module is None else ()
        model_defaults = {key: parameter.default for key, parameter in model_parameters(self.model.name).items()
                          if parameter.default is not inspect.Parameter.empty and key not in sized}
        if self.data.module is None:
            data = {"corpus": self.data.corpus, **self.data.corpus_options, **self.data.loader_options}
        else:
            data = {"module": self.data.module, **self.data.module_options}
        resolved: dict[str, Any] = {"model": {"name": self.model.name, **model_defaults, **self.model.options},
                                    "data": data, "optimizer": self.optimizer}
        for section in ("loss", "lr_scheduler"):
            if getattr(self, section) is not None:
                resolved[section] = getattr(self, section)
        escaped = str(run_dir).replace("{", "{{").replace("}", "}}")
        resolved["quantum"] = self.quantum.to_dict()
        resolved["training"] = {**attrs.asdict(self.training), "log_dir": escaped}
        return resolved


def model_parameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword options a ready model takes: its own arguments and, since both pass
    their extra options on, those of the :class:`QuantumEncoder` inside it."""
    return {**_parameters(QuantumEncoder), **_parameters(getattr(models, name))}


def _parameters(function: Any, skip: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The named parameters of ``function`` (no ``*args`` / ``**kwargs``)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {name: parameter for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind not in variadic and name not in (*skip, "self")}


# --- reading a file -------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; this loader reads it as the float it is in TOML.
    Aliases (``*name``) are refused: a run config has no use for them, and nested ones
    expand exponentially ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, f"alias *{event.anchor} is not allowed in a run config: "
                                       "write the value out", event.start_mark)
        return super().compose_node(parent, index)


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_config_file(path: Path) -> dict[str, Any]:
    """The sections of a ``.toml``, ``.yaml`` or ``.yml`` file as plain data; a syntax
    error is one line with its line number."""
    if path.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise RunConfigError(f"{path}: a run config is a .toml, .yaml or .yml file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunConfigError(f"no such config file: {path}") from None
    except IsADirectoryError:
        raise RunConfigError(f"{path} is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunConfigError(f"cannot read {path}: {one_line(err)}") from None
    if path.suffix.lower() == ".toml":
        try:
            content: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise RunConfigError(f"{path}: TOML syntax error: {one_line(err)}") from None
    else:
        try:
            content = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader: plain data only
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise RunConfigError(f"{path}: YAML syntax error{where}: {err.problem or err.context}") from None
        except yaml.YAMLError as err:
            raise RunConfigError(f"{path}: YAML syntax error: {one_line(err)}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise RunConfigError(f"{path}: the top level must be a table of sections, got {type(content).__name__}")
    return content


def _override(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``raw[section][key]...`` from a dotted ``section.key`` path. A component given
    by its name alone (a named section, a ``[quantum]`` key) takes options the same way:
    ``optimizer.lr`` on ``optimizer = "adamw"`` gives ``{name = "adamw", lr = ...}``."""
    *parents, last = key.split(".")
    if not parents or not all(key.split(".")):
        raise RunConfigError(f"override {key!r} must look like SECTION.KEY, e.g. training.epochs")
    table = raw
    for depth, part in enumerate(parents):
        names_component = part in NAMED_SECTIONS if depth == 0 else depth == 1 and parents[0] == "quantum"
        if names_component and isinstance(table.get(part), str):
            table[part] = {"name": table[part]}
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            where = ".".join(parents[: depth + 1])
            raise RunConfigError(f"{source}: cannot set {key}: {where} is not a table")
    table[last] = value


# --- checking each section ------------------------------------------------------------


def load_run_config(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read and check a run-config file; ``overrides`` maps dotted keys
    (``"training.epochs"``) to values that replace the file's."""
    path = Path(path)
    source = str(path)
    raw = read_config_file(path)
    for key, value in (overrides or {}).items():
        _override(raw, key, value, source)
    for section in raw:
        if section not in SECTIONS:
            raise RunConfigError(f"{source}: unknown section [{section}]{did_you_mean(str(section), SECTIONS)}; "
                                 f"sections: {', '.join(f'[{s}]' for s in SECTIONS)}")
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise RunConfigError(f"{source}: missing section [{section}]")
    training_table = _table(source, raw, "training", known=[f.name for f in attrs.fields(TrainingSection)])
    with blame(source, "training"):
        training = TrainingSection(**training_table)
    data_table = _table(source, raw, "data")
    if "module" in data_table and "corpus" in data_table:
        raise RunConfigError(f"{source}: [data] give either corpus or module, not both")
    model = _model(source, _table(source, raw, "model"), with_corpus="module" not in data_table)
    quantum_table = _table(source, raw, "quantum", known=[f.name for f in attrs.fields(QuantumTrainingConfig)])
    with blame(source, "quantum"):
        quantum = QuantumTrainingConfig.from_value(quantum_table)
    return RunConfig(
        source=source, name=path.stem, model=model, data=_data(source, data_table, model.name, training.seed),
        optimizer=_component(source, raw, "optimizer"), loss=_component(source, raw, "loss"),
        lr_scheduler=_lr_scheduler(source, raw), quantum=quantum, training=training,
    )


def _table(source: str, raw: dict[str, Any], section: str, *, known: list[str] | None = None) -> dict[str, Any]:
    """A copy of ``raw[section]`` (``{}`` when absent; a bare string is the name of a
    :data:`NAMED_SECTIONS` section). Keys outside ``known`` are an error."""
    value = raw.get(section, {})
    if section in NAMED_SECTIONS and isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise RunConfigError(f"{source}: [{section}] must be a table, got {value!r}")
    if known is not None:
        check_keys(source, section, value, known)
    return dict(value)


def check_keys(source: str, section: str, table: Mapping[str, Any], known: list[str]) -> None:
    """An error naming the first key of ``table`` outside ``known``, with close matches."""
    for key in table:
        if key not in known:
            raise RunConfigError(f"{source}: [{section}] unknown key {key!r}{did_you_mean(str(key), known)}; "
                                 f"known keys: {', '.join(known)}")


def _model(source: str, table: dict[str, Any], *, with_corpus: bool) -> ModelSection:
    name = table.pop("name", None)
    if not isinstance(name, str) or name not in MODELS:
        hint = did_you_mean(name, MODELS) if isinstance(name, str) else ""
        given = f"unknown model {name!r}{hint}" if name is not None else "needs name"
        raise RunConfigError(f"{source}: [model] {given}; models: {', '.join(repr(m) for m in MODELS)}")
    parameters = model_parameters(name)
    check_keys(source, "model", table, ["name", *parameters])
    if with_corpus:
        for key in DATA_SIZES:
            if key in table:
                raise RunConfigError(f"{source}: [model] {key} comes from the [data] corpus; leave it out")
    else:
        missing = [key for key in DATA_SIZES if key in parameters and key not in table
                   and parameters[key].default is inspect.Parameter.empty]
        if missing:
            raise RunConfigError(f"{source}: [model] {name} needs {' and '.join(missing)} with a [data] module "
                                 "(the embedded corpus supplies them)")
    return ModelSection(name=name, options=table)


def _data(source: str, table: dict[str, Any], model_name: str, seed: int) -> DataSection:
    if "module" in table:
        module = table.pop("module")
        if not isinstance(module, str) or not module:
            raise RunConfigError(f"{source}: [data] module must be a .py file or a dotted module name, got {module!r}")
        return DataSection(module=module, module_options=table)
    corpus = table.pop("corpus", CORPORA[0])
    if corpus not in CORPORA:
        hint = did_you_mean(corpus, CORPORA) if isinstance(corpus, str) else ""
        raise RunConfigError(f"{source}: [data] unknown corpus {corpus!r}{hint}; corpora: "
                             f"{', '.join(repr(c) for c in CORPORA)} (or give module = ... for your own data)")
    corpus_parameters = _parameters(PolysemyCorpus, skip=("lexicon",))
    loader_parameters = _parameters(getattr(PolysemyCorpus, MODELS[model_name]))
    check_keys(source, "data", table, ["corpus", "module", *corpus_parameters,
                                        *(k for k in loader_parameters if k not in corpus_parameters)])
    table.setdefault("seed", seed)

    def resolved(parameters: dict[str, inspect.Parameter]) -> dict[str, Any]:
        return {key: table.get(key, parameter.default) for key, parameter in parameters.items()}

    return DataSection(corpus=corpus, corpus_options=resolved(corpus_parameters),
                       loader_options=resolved(loader_parameters))


def _component(source: str, raw: dict[str, Any], section: str) -> dict[str, Any] | None:
    """A ``{"name": ..., **options}`` spec; the registry checks name and options when built."""
    if section not in raw:
        return None
    table = _table(source, raw, section)
    if not isinstance(table.get("name"), str):
        given = f", got {table['name']!r}" if "name" in table else ""
        raise RunConfigError(f"{source}: [{section}] needs name = a registered {section} name "
                             f"(`qembed plugins` lists them){given}")
    return table


def _lr_scheduler(source: str, raw: dict[str, Any]) -> dict[str, Any] | None:
    if "lr_scheduler" not in raw:
        return None
    table = _table(source, raw, "lr_scheduler")
    name = table.get("name")
    if name not in LR_SCHEDULERS:
        hint = did_you_mean(name, LR_SCHEDULERS) if isinstance(name, str) else ""
        given = f"unknown LR scheduler {name!r}{hint}" if name is not None else "needs name"
        raise RunConfigError(f"{source}: [lr_scheduler] {given}; torch.optim.lr_scheduler classes: "
                             f"{', '.join(LR_SCHEDULERS)}")
    parameters = _parameters(getattr(lr_scheduler, name), skip=("optimizer",))
    check_keys(source, "lr_scheduler", table, ["name", *parameters])
    for key, value in table.items():
        if key != "name" and not _fits(value, parameters[key].annotation):
            raise RunConfigError(f"{source}: [lr_scheduler] {name} {key} must be {parameters[key].annotation}, "
                                 f"got {value!r}")
    return table


#: what a plain type name in a torch annotation accepts
_PLAIN_TYPES: dict[str, Callable[[Any], bool]] = {
    "None": lambda value: value is None,
    "bool": lambda value: isinstance(value, bool),
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
}


def _fits(value: Any, annotation: Any) -> bool:
    """Whether ``value`` fits an ``lr_scheduler`` argument's annotation, a string such as
    ``'int'``, ``'float | list[float]'`` or ``"Literal['cos', 'linear']"``: torch takes
    a value of the wrong type silently and fails at the first step, after files are written."""
    if not isinstance(annotation, str):
        return True  # not annotated: torch checks it
    return any(_fits_option(value, option) for option in annotation.split(" | "))


def _fits_option(value: Any, option: str) -> bool:
    if option in _PLAIN_TYPES:
        return _PLAIN_TYPES[option](value)
    if option.startswith("Literal["):
        return value in ast.literal_eval(f"({option.removeprefix('Literal[')[:-1]},)")
    if option.startswith(("list[", "Iterable[")):
        item = option.partition("[")[2][:-1]
        return isinstance(value, list) and all(_fits(element, item) for element in value)
    return not option.startswith("Callable[")  # a config holds no function; any other type torch checks

