"""The schema of a ``qembed train`` run config, in one place: its sections and their keys.

:class:`RunConfig`'s fields are the sections, in order; each field's metadata says whether
the section is required and whether it may be a bare name (:data:`SECTIONS`,
:data:`REQUIRED_SECTIONS` and :data:`NAMED_SECTIONS` are read from it). Each section's type
holds its keys: ``[training]`` and ``[quantum]`` are attrs classes whose fields are the keys
(default and validator), ``[model]`` and ``[data]`` take the arguments of the model class and
of ``PolysemyCorpus``, ``[lr_scheduler]`` those of the registered LR scheduler (checked
against its type hints), ``[optimizer]`` and ``[loss]`` are ``{"name": ..., **options}`` specs the plugin
registry checks. Reading a file, ``--set``, the resolved ``config.yaml`` (``to_dict``) and
the key tables of ``docs/cli.md`` (checked by ``tests/test_docs.py``) all come from here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Formatter
from typing import Any, TypeVar

import attrs
from qembed import models, plugins
from qembed.arguments import check_bool, check_int, validator
from qembed.plugins.option_types import check_option_types, option_types
from qembed.data import PolysemyCorpus, TextCorpus
from qembed.data.tokenizer import ALGORITHMS as TOKENIZER_ALGORITHMS
from qembed.models.encoder import QuantumEncoder
from qembed.plugins.errors import did_you_mean
from qembed.training import QuantumTrainingConfig
from qembed.training.compilation import compile_options
from qembed.training.config import ConfigError
from qembed_plugins.lr_schedulers import TORCH_SCHEDULERS

#: the ready models, each with the ``PolysemyCorpus`` method that makes its loaders
MODELS = {"QuantumClassifier": "loaders", "QuantumMaskedLM": "mlm_loaders", "ClassicalClassifier": "loaders"}
CORPORA = ("polysemy",)
#: model arguments the embedded corpus supplies
DATA_SIZES = ("vocab_size", "num_labels")
#: the ``torch.optim.lr_scheduler`` classes registered by name (with the warmup schedules)
LR_SCHEDULERS = TORCH_SCHEDULERS
LOG_DIR_FIELDS = ("name", "timestamp")
#: the [data] keys of text files that name files or folders (``tokenizer`` unless an algorithm's name)
TEXT_PATHS = ("train", "validation", "test", "tokenizer")
#: the [model] key naming a saved model whose encoder the model starts from
ENCODER_FROM = "encoder_from"

AttrsSection = TypeVar("AttrsSection", bound=attrs.AttrsInstance)


def absolute(path: str) -> str:
    """``path`` from the current folder: the resolved ``config.yaml`` names the same files
    wherever ``qembed evaluate`` or ``--resume`` runs."""
    return str(Path(path).expanduser().absolute())


def check_keys(table: Mapping[str, Any], known: list[str]) -> None:
    """A :class:`ConfigError` naming the first key of ``table`` outside ``known``, with close matches."""
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(str(key), known)}; known keys: {', '.join(known)}")


def from_table(cls: type[AttrsSection], table: Mapping[str, Any]) -> AttrsSection:
    """An attrs section whose fields are its keys (``[training]``, ``[quantum]``) from its table."""
    check_keys(table, [field.name for field in attrs.fields(cls)])
    return cls(**table)


# --- the options of the classes a section names -----------------------------------------


def parameters(function: Any, skip: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The named parameters of ``function`` (no ``self``, ``*args`` or ``**kwargs``)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {name: parameter for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind not in variadic and name not in (*skip, "self")}


def model_parameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword options a ready model takes: its own arguments and, since both pass
    their extra options on, those of the :class:`QuantumEncoder` inside it."""
    return {**parameters(QuantumEncoder), **parameters(getattr(models, name))}


def corpus_parameters() -> dict[str, inspect.Parameter]:
    """The ``PolysemyCorpus`` options of ``[data]`` (a lexicon is no config value)."""
    return parameters(PolysemyCorpus, skip=("lexicon",))


def loader_parameters(model_name: str) -> dict[str, inspect.Parameter]:
    """The options of the ``PolysemyCorpus`` method that makes ``model_name``'s loaders."""
    return parameters(getattr(PolysemyCorpus, MODELS[model_name]))


def text_parameters() -> dict[str, inspect.Parameter]:
    """The ``TextCorpus`` options of ``[data]`` with ``train`` (its label map comes from the
    train split: no config value)."""
    return parameters(TextCorpus, skip=("labels",))


def text_loader_parameters(model_name: str) -> dict[str, inspect.Parameter]:
    """The options of the ``TextCorpus`` method that makes ``model_name``'s loaders."""
    return parameters(getattr(TextCorpus, MODELS[model_name]))


# --- validators -----------------------------------------------------------------------


@attrs.frozen
class Integer:
    """An attrs validator: an integer >= ``minimum`` (any integer when ``None``), or
    ``None`` when ``optional``; the message is :func:`qembed.arguments.check_int`'s."""

    minimum: int | None = None
    optional: bool = False

    def __call__(self, instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not (self.optional and value is None):
            check_int(attribute.name, value, minimum=self.minimum)


_boolean = validator(check_bool, words=("true", "false"))


def _optional_string(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{attribute.name} must be a string, got {value!r}")


def _val_check_interval(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1) or (
            isinstance(value, float) and 0.0 < value <= 1.0):
        return
    raise ConfigError(f"val_check_interval must be an integer >= 1 (optimizer steps) or a float in (0, 1] "
                      f"(a fraction of an epoch), got {value!r}")


def _mode(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value not in ("min", "max"):
        raise ConfigError(f"mode must be \"min\" or \"max\", got {value!r}")


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


def _logger_specs(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, list) or not all(
            isinstance(spec, str) or (isinstance(spec, dict) and isinstance(spec.get("name"), str)) for spec in value):
        raise ConfigError(f"loggers must be a list of logger names or {{ name = ..., options }} tables "
                          f"(`qembed plugins` lists them), got {value!r}")


def _compile(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, Mapping) and "backend" in value and not isinstance(value["backend"], str):
        raise ConfigError(f"compile.backend must be a backend name, got {value['backend']!r}")
    compile_options(value, "compile")


def _unknown(what: str, name: Any, choices: Any, listing: str) -> ConfigError:
    """``unknown <what> 'x' (did you mean ...?); <listing>``, or ``needs name; ...`` without one."""
    hint = did_you_mean(name, choices) if isinstance(name, str) else ""
    given = f"unknown {what} {name!r}{hint}" if name is not None else "needs name"
    return ConfigError(f"{given}; {listing}")


# --- the sections ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ModelSection:
    """``[model]``: a model of :mod:`qembed.models` by class name, with its keyword options
    (the keys :func:`model_parameters` lists; the model checks their values when built), and
    ``encoder_from``: a saved model whose encoder it starts from (``model.load_encoder``)."""

    name: str
    options: dict[str, Any]
    encoder_from: str | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, with_corpus: bool) -> ModelSection:
        """Check the table's model name and keys; ``with_corpus``: the corpus sizes the model."""
        options = dict(table)
        name = options.pop("name", None)
        if not isinstance(name, str) or name not in MODELS:
            raise _unknown("model", name, MODELS, f"models: {', '.join(repr(m) for m in MODELS)}")
        known = model_parameters(name)
        check_keys(options, ["name", ENCODER_FROM, *known])
        encoder_from = options.pop(ENCODER_FROM, None)
        if encoder_from is not None:
            if not isinstance(encoder_from, str) or not encoder_from:
                raise ConfigError(f"{ENCODER_FROM} must be the path of a saved model (a run folder, a model "
                                  f"folder or a weights file), got {encoder_from!r}")
            if not issubclass(getattr(models, name), models.EncoderModel):
                raise ConfigError(f"{ENCODER_FROM}: {name} has no quantum encoder to start from")
            encoder_from = absolute(encoder_from)
        if with_corpus:
            for key in DATA_SIZES:
                if key in options:
                    raise ConfigError(f"{key} comes from the [data] corpus or text files; leave it out")
        else:
            missing = [key for key in DATA_SIZES if key in known and key not in options
                       and known[key].default is inspect.Parameter.empty]
            if missing:
                raise ConfigError(f"{name} needs {' and '.join(missing)} with a [data] module "
                                  "(the embedded corpus supplies them)")
        return cls(name=name, options=options, encoder_from=encoder_from)

    def to_dict(self) -> dict[str, Any]:
        """The section with every default of the model filled in."""
        defaults = {key: parameter.default for key, parameter in model_parameters(self.name).items()
                    if parameter.default is not inspect.Parameter.empty}
        start = {ENCODER_FROM: self.encoder_from} if self.encoder_from is not None else {}
        return {"name": self.name, **start, **defaults, **self.options}


@attrs.frozen(kw_only=True)
class DataSection:
    """``[data]``: the embedded corpus with its corpus and loader options, your text files
    (``train = "..."``: a :class:`~qembed.data.TextCorpus` with its options), or a user
    ``module`` whose ``build(**module_options)`` returns ``(train_loader, val_loader)``."""

    corpus: str | None = None
    corpus_options: dict[str, Any] = attrs.Factory(dict)
    loader_options: dict[str, Any] = attrs.Factory(dict)
    module: str | None = None
    module_options: dict[str, Any] = attrs.Factory(dict)

    @property
    def text_files(self) -> bool:
        """Whether the section reads text files (a :class:`~qembed.data.TextCorpus`)."""
        return self.corpus is None and self.module is None

    @staticmethod
    def uses_corpus(table: Mapping[str, Any]) -> bool:
        """Whether the table's data sizes the model (the embedded corpus or text files, not a
        ``module``); more than one of ``corpus``, ``train`` and ``module`` is an error."""
        given = [key for key in ("corpus", "train", "module") if key in table]
        if len(given) > 1:
            raise ConfigError(f"give one of corpus, train (your text files) and module, not {' and '.join(given)}")
        return "module" not in table

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, model_name: str, seed: int) -> DataSection:
        """Check the table and resolve every corpus and loader option of ``model_name``'s
        loaders; ``seed`` (``[training] seed``) is the corpus seed unless the table sets one."""
        options = dict(table)
        if not cls.uses_corpus(options):
            module = options.pop("module")
            if not isinstance(module, str) or not module:
                raise ConfigError(f"module must be a .py file or a dotted module name, got {module!r}")
            return cls(module=module, module_options=options)
        if "train" in options:
            corpus, corpus_keys, loader_keys = None, text_parameters(), text_loader_parameters(model_name)
            if MODELS[model_name] == "mlm_loaders":  # the masked tokens are its labels
                if options.get("label_field") is not None:  # null: as its resolved config.yaml writes it
                    raise ConfigError(f"label_field: {model_name} learns from masked tokens, not labels; leave it out")
                options["label_field"] = None
                if options.get("test") is not None or options.get("test_fraction", 0.0) != 0.0:
                    raise ConfigError(f"{model_name} trains and validates on masked tokens, with no test split: "
                                      "leave test and test_fraction out (validation_fraction sets what it validates on)")
                options["test_fraction"] = 0.0  # no row is held back for a split its loaders never give
            for key in TEXT_PATHS:
                if isinstance(options.get(key), str) and not (key == "tokenizer" and options[key] in TOKENIZER_ALGORITHMS):
                    options[key] = absolute(options[key])
        else:
            corpus = options.pop("corpus", CORPORA[0])
            if corpus not in CORPORA:
                hint = did_you_mean(corpus, CORPORA) if isinstance(corpus, str) else ""
                raise ConfigError(f"unknown corpus {corpus!r}{hint}; corpora: {', '.join(repr(c) for c in CORPORA)} "
                                  "(or give train = ... for your text files, module = ... for your own loaders)")
            corpus_keys, loader_keys = corpus_parameters(), loader_parameters(model_name)
        check_keys(options, [*(["corpus", "module"] if corpus else []), *corpus_keys,
                             *(k for k in loader_keys if k not in corpus_keys)])
        options.setdefault("seed", seed)

        def resolved(keys: dict[str, inspect.Parameter]) -> dict[str, Any]:
            return {key: options.get(key, parameter.default) for key, parameter in keys.items()}

        return cls(corpus=corpus, corpus_options=resolved(corpus_keys), loader_options=resolved(loader_keys))

    def to_dict(self) -> dict[str, Any]:
        """The section as a table: the corpus or text files with their resolved options, or the module's."""
        if self.module is not None:
            return {"module": self.module, **self.module_options}
        corpus = {"corpus": self.corpus} if self.corpus is not None else {}
        return {**corpus, **self.corpus_options, **self.loader_options}


@attrs.frozen(kw_only=True)
class TrainingSection:
    """``[training]``: what ``QuantumTrainer(...)`` and ``trainer.train(...)`` take
    besides the components, and where the run folder goes. Each field is a key."""

    epochs: int = attrs.field(default=10, validator=Integer(1))
    seed: int = attrs.field(default=0, validator=Integer())
    device: str | None = attrs.field(default=None, validator=_optional_string)
    log_dir: str = attrs.field(default="runs/{name}-{timestamp}", validator=_log_dir_template)
    checkpoints: bool = attrs.field(default=True, validator=_boolean)
    keep_best_checkpoint: bool = attrs.field(default=True, validator=_boolean)
    save_best_model: bool = attrs.field(default=False, validator=_boolean)
    early_stopping_patience: int | None = attrs.field(default=None, validator=Integer(0, optional=True))
    max_steps: int | None = attrs.field(default=None, validator=Integer(1, optional=True))
    val_check_interval: int | float | None = attrs.field(default=None, validator=_val_check_interval)
    checkpoint_every_n_steps: int | None = attrs.field(default=None, validator=Integer(1, optional=True))
    monitor: str | None = attrs.field(default=None, validator=_optional_string)
    mode: str = attrs.field(default="min", validator=_mode)
    save_top_k: int | None = attrs.field(default=None, validator=Integer(-1, optional=True))
    progress_bar: bool = attrs.field(default=True, validator=_boolean)
    loggers: list = attrs.field(factory=lambda: ["tensorboard"], validator=_logger_specs)
    compile: bool | dict = attrs.field(default=False, validator=_compile)

    def to_dict(self) -> dict[str, Any]:
        """Every key with its value."""
        return attrs.asdict(self)


def component_spec(section: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """``[optimizer]``, ``[loss]``: a ``{"name": ..., **options}`` spec; the plugin registry
    checks the name and options when it builds the component."""
    if not isinstance(table.get("name"), str):
        given = f", got {table['name']!r}" if "name" in table else ""
        raise ConfigError(f"needs name = a registered {section} name (`qembed plugins` lists them){given}")
    return dict(table)


def lr_scheduler_spec(table: Mapping[str, Any]) -> dict[str, Any]:
    """``[lr_scheduler]``: a registered LR scheduler (a torch class of :data:`LR_SCHEDULERS`,
    a warmup schedule or a plugin's) and its options, each checked against the type its
    factory declares (torch would take a wrong type and fail at the first step, after the
    run folder was written)."""
    name = table.get("name")
    available = plugins.available("lr_schedulers")
    if not isinstance(name, str) or name not in available:
        raise _unknown("LR scheduler", name, available, f"registered LR schedulers: {', '.join(available)} "
                       "(`qembed plugins` lists them)")
    factory = available[name].factory
    check_keys(table, ["name", *parameters(factory, skip=("optimizer",))])
    try:
        check_option_types(name, option_types(factory), {k: v for k, v in table.items() if k != "name"})
    except TypeError as err:
        raise ConfigError(str(err)) from None
    return dict(table)


# --- the run config -------------------------------------------------------------------

#: the field metadata key that marks a :class:`RunConfig` field as a section
SECTION = "section"


def _section(*, required: bool = False, named: bool = False) -> Any:
    """A :class:`RunConfig` field that is a section. ``named``: the section may be a bare
    name (``optimizer = "adamw"`` is ``[optimizer] name = "adamw"``)."""
    return attrs.field(metadata={SECTION: {"required": required, "named": named}})


@attrs.frozen(kw_only=True)
class RunConfig:
    """A checked run config. ``source`` is the file (for messages), ``name`` its stem
    (``{name}`` in ``log_dir``); the other fields are the sections, in the order the
    resolved config lists them; component sections are ``{"name": ..., **options}`` specs, absent ones ``None``."""

    source: str
    name: str
    model: ModelSection = _section(required=True, named=True)
    data: DataSection = _section()
    optimizer: dict[str, Any] = _section(required=True, named=True)
    loss: dict[str, Any] | None = _section(named=True)
    lr_scheduler: dict[str, Any] | None = _section(named=True)
    quantum: QuantumTrainingConfig = _section()
    training: TrainingSection = _section()

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
        resolved = {section: value if isinstance(value, dict) else value.to_dict()
                    for section in SECTIONS if (value := getattr(self, section)) is not None}
        resolved["training"]["log_dir"] = str(run_dir).replace("{", "{{").replace("}", "}}")
        return resolved


def _sections(where: Callable[[dict[str, bool]], bool]) -> tuple[str, ...]:
    return tuple(field.name for field in attrs.fields(RunConfig) if SECTION in field.metadata
                 and where(field.metadata[SECTION]))


SECTIONS = _sections(lambda section: True)
REQUIRED_SECTIONS = _sections(lambda section: section["required"])
#: sections that may be a bare name: ``optimizer = "adamw"`` is ``[optimizer] name = "adamw"``
NAMED_SECTIONS = _sections(lambda section: section["named"])


def component_keys(section: str) -> tuple[str, ...]:
    """The keys of a section whose value picks a plugin component and so may be a bare name
    or a table (``[quantum] superposition_schedule``)."""
    section_type = attrs.fields_dict(attrs.resolve_types(RunConfig))[section].type
    if section_type is None or not attrs.has(section_type):
        return ()
    return tuple(field.name for field in attrs.fields(section_type)
                 if getattr(field.validator, "selects_component", False))
