"""A saved model folder: the model's class and constructor options beside its weights,
with the tokenizer and label map it reads text with, so that one path rebuilds it for
inference on any device::

    <folder>/config.json        format, version, qembed_version, model_class, options, data,
                                tokenizer, labels (the parts saved, or null), weights_sha256
    <folder>/model.safetensors  the weights (safetensors), written atomically
    <folder>/tokenizer/         TextTokenizer.save (optional)
    <folder>/labels.json        LabelMap.save (optional)

Files saved before this format (``best_model.pth`` of ``QuantumTrainer.save_model``, a
training checkpoint, a bare ``state_dict``) hold weights only: they load when the missing
constructor options are given. A ``qembed train`` run folder of that time is rebuilt from
its ``config.yaml`` where that says enough, with a warning naming what was rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import safetensors.torch
import torch
from torch import Tensor, nn

from qembed.models.init_options import ATTRIBUTE
from qembed.training.checkpoint_io import (CheckpointIntegrityError, atomic_write_bytes, load_model_state,
                                           load_state_dict_checked)
from qembed.training.devices import resolve_device

if TYPE_CHECKING:
    from qembed.data.label_map import LabelMap
    from qembed.data.tokenizer import TextTokenizer

FORMAT = "qembed-model"
VERSION = 2
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FOLDER = "tokenizer"
LABELS_FILE = "labels.json"
#: the model folder inside a run folder
RUN_MODEL_FOLDER = "model"
#: the weights of a run folder written before model folders, best first
LEGACY_RUN_WEIGHTS = ("best_model.pth", "checkpoints/last.pth")
#: safetensors metadata: the names written once for tensors that share memory, ``{dropped: kept}``
_ALIASES = "qembed.aliases"

PathLike = str | os.PathLike[str]
Model = TypeVar("Model", bound="PretrainedModel")


class LoadedModel(NamedTuple):
    """What :func:`load_pretrained` gives: the model (eval mode) and what reads its input."""

    model: nn.Module
    tokenizer: TextTokenizer | None
    labels: LabelMap | None
    #: the data options saved with the model (``TextCorpus.options``); ``{}`` when none
    data_options: dict[str, Any]


class PretrainedModel(nn.Module):
    """Base of qembed's ready models: they record their constructor arguments
    (:attr:`init_options`), are saved as a model folder (:meth:`save_pretrained`) and
    rebuilt from one (:meth:`from_pretrained`)."""

    @property
    def init_options(self) -> dict[str, Any]:
        """Every constructor argument by name, defaults filled in: what rebuilds the model."""
        options = self.__dict__.get(ATTRIBUTE)
        if options is None:
            raise TypeError(f"{type(self).__name__} did not record its constructor arguments: decorate its "
                            "__init__ with qembed.models.records_init_options")
        return dict(options)

    def save_pretrained(self, folder: PathLike, *, tokenizer: TextTokenizer | None = None,
                        labels: LabelMap | None = None, data_options: dict[str, Any] | None = None) -> Path:
        """Write the model folder (layout in the module's docstring) and return its path.
        Everything is checked before a file is written; ``config.json``, written last, names
        the parts saved, so a load reads no tokenizer or label map left by an earlier save."""
        target = Path(folder)
        model = type(self).__name__
        options = _json_values(self.init_options, f"{model} option")
        config = {
            "format": FORMAT, "version": VERSION, "qembed_version": _qembed_version(),
            "model_class": _class_name(type(self)), "options": options,
            "data": _json_values(dict(data_options or {}), "data option"),
            "tokenizer": None if tokenizer is None else TOKENIZER_FOLDER,
            "labels": None if labels is None else LABELS_FILE,
        }
        _check_parts(tokenizer, labels, options)
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(f"cannot save the model in {str(target)!r}: it is a file, not a folder")
        tensors, metadata = _writable(self.state_dict())
        payload = safetensors.torch.save(tensors, metadata)
        target.mkdir(parents=True, exist_ok=True)
        if tokenizer is not None:
            tokenizer.save(target / TOKENIZER_FOLDER)
        if labels is not None:
            labels.save(target / LABELS_FILE)
        atomic_write_bytes(target / WEIGHTS_FILE, payload)
        config["weights_sha256"] = hashlib.sha256(payload).hexdigest()
        atomic_write_bytes(target / CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode())
        return target

    @classmethod
    def from_pretrained(cls: type[Model], path: PathLike, *, device: str | torch.device | None = None,
                        **options: Any) -> Model:
        """The model saved at ``path`` in eval mode on ``device`` (default the CPU).

        ``path``: a model folder, a run folder (its ``model/`` folder, or a run written before
        model folders, rebuilt from its ``config.yaml`` with a warning), or a weights file
        saved before model folders (``best_model.pth``, a training checkpoint, a
        ``state_dict``), which needs the constructor ``options`` it was trained with."""
        return cast(Model, _load(Path(path), device, options, expected=cls, with_text=False).model)


def load_pretrained(path: PathLike, device: str | torch.device | None = None) -> LoadedModel:
    """The model saved at ``path`` (a model folder or a run folder, see
    :meth:`PretrainedModel.from_pretrained`) with its tokenizer, label map and data
    options; the class is read from ``config.json`` (a :mod:`qembed.models` class, or
    ``module:Class`` of an importable module)."""
    return _load(Path(path), device, {}, expected=None, with_text=True)


def saved_weights(path: PathLike) -> dict[str, Tensor]:
    """The weights (on the CPU) of a model folder, a run folder or a weights file."""
    source = Path(path)
    folder = _model_folder(source)
    if folder is not None:
        return _read_weights(folder, read_config(folder))
    if source.is_dir():
        return load_model_state(_legacy_run_weights(source))
    return load_model_state(source)


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json``, checked: its format, version and the fields a load reads."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(folder)!r} is not a model folder: it has no {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not valid JSON ({err}): the model folder's config is damaged") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a qembed model config (format {FORMAT!r})")
    if config.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} is a qembed model of format version {config.get('version')!r}; this "
                         f"qembed {_qembed_version()} reads version {VERSION} (update qembed)")
    for key, kind in (("model_class", str), ("options", dict), ("data", dict), ("weights_sha256", str)):
        if not isinstance(config.get(key), kind):
            raise ValueError(f"{str(path)!r} is damaged: its {key!r} is missing or not a {kind.__name__}")
    for key, name in (("tokenizer", TOKENIZER_FOLDER), ("labels", LABELS_FILE)):
        if config.get(key, "") not in (None, name):
            raise ValueError(f"{str(path)!r} is damaged: its {key!r} must be {name!r} or null, got {config.get(key)!r}")
    return config


# --- loading --------------------------------------------------------------------------


def _load(source: Path, device: str | torch.device | None, options: dict[str, Any],
          *, expected: type[nn.Module] | None, with_text: bool) -> LoadedModel:
    target = torch.device("cpu") if device is None else resolve_device(device)
    if not source.exists():
        raise FileNotFoundError(f"no model folder, run folder or weights file at {str(source)!r}")
    folder = _model_folder(source)
    if source.is_dir() and folder is None and (source / RUN_MODEL_FOLDER).is_dir():
        raise FileNotFoundError(f"the run folder {str(source)!r} holds no trained model yet: its {RUN_MODEL_FOLDER}/ "
                                f"gets the model when training finishes (it did not: stopped, or still running); "
                                f"continue it with: qembed train {source / 'config.yaml'} --resume {source}")
    if source.is_dir() and folder is None and not (source / "config.yaml").is_file():
        raise ValueError(f"{str(source)!r} is neither a model folder (no {CONFIG_FILE}) nor a run folder "
                         f"(no {RUN_MODEL_FOLDER}/{CONFIG_FILE}, no config.yaml)")
    if options and (folder is not None or source.is_dir()):
        raise TypeError(f"{str(source)!r} records the model's options; keyword options "
                        f"({', '.join(options)}) are for a weights file saved before model folders")
    if folder is not None:
        loaded = _load_folder(folder, expected, with_text)
    elif source.is_dir():
        loaded = _load_legacy_run(source, expected, with_text)
    else:
        loaded = LoadedModel(_load_legacy_file(source, options, expected), None, None, {})
    loaded.model.to(target).eval()
    return loaded


def saved_tokenizer_folder(path: PathLike) -> Path | None:
    """The tokenizer folder saved with the model at ``path`` (a model folder or a run
    folder), or ``None`` when it has none (a weights file, a model saved without one)."""
    folder = _model_folder(Path(path))
    if folder is None or read_config(folder)["tokenizer"] is None:
        return None
    return _part(folder, TOKENIZER_FOLDER)


def _model_folder(source: Path) -> Path | None:
    """The model folder ``source`` names: itself, a run folder's ``model/``, or the folder
    of its ``config.json`` / ``model.safetensors``; ``None`` for anything else."""
    if source.is_dir():
        for folder in (source, source / RUN_MODEL_FOLDER):
            if (folder / CONFIG_FILE).is_file():
                return folder
        return None
    if source.name in (CONFIG_FILE, WEIGHTS_FILE) and (source.parent / CONFIG_FILE).is_file():
        return source.parent
    return None


def _load_folder(folder: Path, expected: type[nn.Module] | None, with_text: bool) -> LoadedModel:
    config = read_config(folder)
    source = repr(str(folder / CONFIG_FILE))
    cls = _model_class(config["model_class"], source)
    _check_expected(cls, expected, folder)
    model = _build(cls, config["options"], source)
    _load_weights(model, _read_weights(folder, config), f"{str(folder / WEIGHTS_FILE)!r}")
    tokenizer = labels = None
    if with_text and config["tokenizer"] is not None:
        saved = _part(folder, TOKENIZER_FOLDER)
        from qembed.data.tokenizer import TextTokenizer
        tokenizer = TextTokenizer.load(saved)
    if with_text and config["labels"] is not None:
        saved = _part(folder, LABELS_FILE)
        from qembed.data.label_map import LabelMap
        labels = LabelMap.load(saved)
    try:
        _check_parts(tokenizer, labels, config["options"])
    except ValueError as err:
        raise ValueError(f"the model folder {str(folder)!r} does not fit together: {err}") from None
    return LoadedModel(model, tokenizer, labels, config["data"])


def _part(folder: Path, name: str) -> Path:
    if not (folder / name).exists():
        raise FileNotFoundError(f"the model folder {str(folder)!r} has no {name}, which its {CONFIG_FILE} names: "
                                "it is incomplete (save the model again)")
    return folder / name


def _read_weights(folder: Path, config: dict[str, Any]) -> dict[str, Tensor]:
    """The tensors of ``folder/model.safetensors``, its sha256 checked against ``config``'s."""
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the model folder {str(folder)!r} has no {WEIGHTS_FILE}: it is incomplete "
                                "(save the model again)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != config["weights_sha256"]:
        raise CheckpointIntegrityError(
            f"{str(path)!r} is corrupted: its sha256 does not match the one {CONFIG_FILE} records (damaged, "
            "replaced or written by an interrupted save); it was not loaded (save the model again)")
    try:
        tensors = safetensors.torch.load(data)
        header = json.loads(data[8: 8 + int.from_bytes(data[:8], "little")])
    except Exception as err:  # safetensors raises its own SafetensorError
        raise ValueError(f"{str(path)!r} is not a safetensors file qembed can read: {err}") from None
    aliases = json.loads(header.get("__metadata__", {}).get(_ALIASES, "{}"))
    tensors.update({dropped: tensors[kept] for dropped, kept in aliases.items()})
    return tensors


def _load_weights(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """Load ``state`` into ``model``, cast first to the file's floating dtype when it has one."""
    dtypes = {tensor.dtype for tensor in state.values() if tensor.is_floating_point()}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    load_state_dict_checked(model, state, source)


def _load_legacy_file(path: Path, options: dict[str, Any], expected: type[nn.Module] | None) -> nn.Module:
    state = load_model_state(path)
    legacy = (f"{str(path)!r} holds weights only (saved before qembed wrote model folders): it records no model "
              "class, constructor options, tokenizer or label map")
    if expected is None or expected is PretrainedModel:
        raise ValueError(f"{legacy}. Load it with the class it was trained as, e.g. QuantumClassifier."
                         f"from_pretrained({str(path)!r}, vocab_size=..., num_labels=..., <its other options>), "
                         "then model.save_pretrained(folder, tokenizer=..., labels=...) makes a folder that "
                         "loads alone")
    name = expected.__name__
    _check_option_names(expected, options, f"{name}.from_pretrained({str(path)!r})")
    missing = _missing_options(expected, options)
    if missing:
        raise ValueError(f"{legacy}. Give the options {name} needs: {name}.from_pretrained({str(path)!r}, "
                         f"{', '.join(f'{key}=...' for key in missing)}, <its other options as trained>); its "
                         "run's config.yaml [model] lists them")
    model = expected(**options)
    try:
        _load_weights(model, state, f"{str(path)!r}")
    except ValueError as err:
        raise ValueError(f"{err}; give the options it was trained with (its run's config.yaml [model] "
                         "section)") from None
    return model


def _legacy_run_weights(run_dir: Path) -> Path:
    for name in LEGACY_RUN_WEIGHTS:
        if (run_dir / name).is_file():
            return run_dir / name
    raise FileNotFoundError(f"the run folder {str(run_dir)!r} holds no model: no {RUN_MODEL_FOLDER}/ folder, "
                            f"no {' nor '.join(LEGACY_RUN_WEIGHTS)}")


def _load_legacy_run(run_dir: Path, expected: type[nn.Module] | None, with_text: bool) -> LoadedModel:
    """Rebuild a run folder written before model folders from its ``config.yaml``:
    ``[model]`` gives the class and options, the embedded corpus of ``[data]`` the sizes,
    the tokenizer and the label names."""
    import yaml

    config_path = run_dir / "config.yaml"
    weights = _legacy_run_weights(run_dir)
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{str(config_path)!r} is not valid YAML: {err}") from None
    sections = config if isinstance(config, dict) else {}
    model_table = dict(sections.get("model") or {})
    data_table = dict(sections.get("data") or {})
    name = model_table.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(f"{str(config_path)!r} has no [model] name: the run folder cannot be rebuilt; load "
                         f"{str(weights)!r} with its class's from_pretrained and the options it was trained with")
    cls = _model_class(name, f"{str(config_path)!r} [model] name")
    _check_expected(cls, expected, run_dir)
    rebuilt = [f"{cls.__name__} and its options from config.yaml [model]"]
    corpus = None
    if data_table.get("corpus") == "polysemy":
        from qembed.data import PolysemyCorpus

        known = inspect.signature(PolysemyCorpus).parameters
        corpus = PolysemyCorpus(**{key: value for key, value in data_table.items() if key in known})
        accepted = inspect.signature(cls).parameters
        sizes = {key: value for key, value in (("vocab_size", corpus.vocab_size), ("num_labels", corpus.num_labels))
                 if key in accepted}
        model_table.update(sizes)
        rebuilt.append(f"{', '.join(sizes)} from its [data] polysemy corpus")
    missing = _missing_options(cls, model_table)
    if missing:
        raise ValueError(f"{str(config_path)!r} does not say enough to rebuild the model: [model] lacks "
                         f"{', '.join(missing)} and [data] is not the embedded corpus that gives them; load "
                         f"{str(weights)!r} with {cls.__name__}.from_pretrained(..., "
                         f"{', '.join(f'{key}=...' for key in missing)})")
    model = _build(cls, model_table, f"{str(config_path)!r} [model]")
    _load_weights(model, load_model_state(weights), f"{str(weights)!r}")
    rebuilt.append(f"the weights of {weights.relative_to(run_dir)}")
    tokenizer = labels = None
    if with_text and corpus is not None:
        tokenizer = getattr(corpus, "tokenizer", None)
        tokenizer = tokenizer() if inspect.ismethod(tokenizer) else tokenizer
        if tokenizer is not None:
            rebuilt.append("the tokenizer of the corpus's vocabulary")
        if "num_labels" in inspect.signature(cls).parameters:
            from qembed.data.label_map import LabelMap
            labels = LabelMap(corpus.label_names)
            rebuilt.append("the label map of the corpus's topics")
    warnings.warn(f"{str(run_dir)!r} was written before qembed saved model folders; rebuilt "
                  f"{'; '.join(rebuilt)}. Save it with model.save_pretrained(folder) to load it without rebuilding",
                  UserWarning, stacklevel=_caller_outside_qembed())
    return LoadedModel(model, tokenizer, labels, {})


# --- classes and options --------------------------------------------------------------


def _caller_outside_qembed() -> int:
    """The ``stacklevel`` of :func:`warnings.warn` that names the first frame outside qembed
    (the user's call of ``from_pretrained``, ``qembed.load``, ...)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "qembed":
        frame, level = frame.f_back, level + 1
    return level


def _class_name(cls: type[nn.Module]) -> str:
    """How ``config.json`` names ``cls``: its name for a :mod:`qembed.models` class, else
    ``module:QualName`` (an importable module's; refused otherwise)."""
    models = importlib.import_module("qembed.models")
    if getattr(models, cls.__name__, None) is cls:
        return cls.__name__
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise TypeError(f"cannot save a {cls.__qualname__}: a class defined in {cls.__module__} "
                        f"{'(a script)' if cls.__module__ == '__main__' else 'inside a function'} cannot be "
                        "imported to rebuild it; define it in an importable module")
    return f"{cls.__module__}:{cls.__qualname__}"


def _ready_models() -> list[str]:
    """The model classes of :mod:`qembed.models` (not their bases, which have no constructor of their own)."""
    models = importlib.import_module("qembed.models")
    classes = {name: getattr(models, name) for name in models.__all__}
    return [name for name, cls in classes.items() if isinstance(cls, type) and issubclass(cls, PretrainedModel)
            and cls.__init__ is not nn.Module.__init__]


def _model_class(name: str, source: str) -> type[nn.Module]:
    """The class ``name`` means: a ready model of :mod:`qembed.models`, or ``module:Class``."""
    from qembed.plugins.errors import did_you_mean

    if ":" not in name:
        ready = _ready_models()
        if name not in ready:
            raise ValueError(f"{source}: unknown model_class {name!r}{did_you_mean(name, ready)}; qembed's models: "
                             f"{', '.join(ready)}, or 'module:Class' of an importable module")
        cls = getattr(importlib.import_module("qembed.models"), name)
    else:
        module_name, _, qualname = name.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError as err:
            raise ValueError(f"{source}: model_class {name!r}: its module cannot be imported ({err})") from None
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if not (isinstance(found, type) and issubclass(found, nn.Module)):
            raise ValueError(f"{source}: model_class {name!r}: {module_name} has no nn.Module class {qualname!r}")
        cls = found
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    return cls


def _check_expected(cls: type[nn.Module], expected: type[nn.Module] | None, source: Path) -> None:
    if expected is not None and not issubclass(cls, expected):
        raise TypeError(f"{str(source)!r} holds a {cls.__name__}, not a {expected.__name__}: load it with "
                        f"{cls.__name__}.from_pretrained or qembed.models.load_pretrained")


def _check_option_names(cls: type[nn.Module], options: dict[str, Any], source: str) -> None:
    from qembed.plugins.errors import did_you_mean

    parameters = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for key in options:
        if key not in parameters:
            raise ValueError(f"{source}: {cls.__name__} takes no option {key!r}{did_you_mean(key, parameters)}")


def _missing_options(cls: type[nn.Module], options: dict[str, Any]) -> list[str]:
    return [name for name, p in inspect.signature(cls).parameters.items()
            if p.default is inspect.Parameter.empty and name not in options
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


def _build(cls: type[nn.Module], options: dict[str, Any], source: str) -> nn.Module:
    """``cls(**options)``, an unknown or missing option named with ``source``."""
    _check_option_names(cls, options, source)
    missing = _missing_options(cls, options)
    if missing:
        raise ValueError(f"{source}: {cls.__name__} needs {', '.join(missing)}, which the options lack")
    return cls(**options)


def _json_values(values: dict[str, Any], what: str) -> dict[str, Any]:
    """``values``, each checked to survive JSON unchanged (``config.json`` records them)."""
    for key, value in values.items():
        try:
            same = bool(json.loads(json.dumps(value, allow_nan=False)) == value)
        except (TypeError, ValueError):
            same = False
        if not same:
            raise TypeError(f"cannot save the model: its {what} {key}={value!r} is not JSON data (a string, "
                            "finite number, bool, None, or a list or dict of them), which config.json records; "
                            "build the model with that option given as data (a component by its name)")
    return values


def _check_parts(tokenizer: Any, labels: Any, options: dict[str, Any]) -> None:
    """The tokenizer and label map are qembed's and fit the model: every token id is in its
    vocabulary, one label per class."""
    vocab_size, num_labels = options.get("vocab_size"), options.get("num_labels")
    if tokenizer is not None:
        from qembed.data.tokenizer import TextTokenizer
        if not isinstance(tokenizer, TextTokenizer):
            raise TypeError(f"tokenizer must be a qembed.data.TextTokenizer or None, got {type(tokenizer).__name__}")
        if isinstance(vocab_size, int) and tokenizer.vocab_size > vocab_size:
            raise ValueError(f"the tokenizer gives ids up to {tokenizer.vocab_size - 1}, but the model's vocab_size is "
                             f"{vocab_size}: save the tokenizer the model was trained with")
    if labels is not None:
        from qembed.data.label_map import LabelMap
        if not isinstance(labels, LabelMap):
            raise TypeError(f"labels must be a qembed.data.LabelMap or None, got {type(labels).__name__}")
        if num_labels is None or len(labels) != num_labels:
            raise ValueError(f"the label map holds {len(labels)} labels, but the model predicts "
                             f"{num_labels if num_labels is not None else 'no'} classes: save the label map it was "
                             "trained with")


def _writable(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """``state`` as safetensors writes it: a tensor that is another's exact view (tied
    weights) written once and recorded as an alias, a partial view copied out."""
    tensors: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    views: dict[tuple[Any, ...], str] = {}
    storages: set[tuple[Any, ...]] = set()
    for name, tensor in state.items():
        tensor = tensor.detach()
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        view = (*storage, tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() and view in views:
            aliases[name] = views[view]
            continue
        whole = tensor.is_contiguous() and tensor.storage_offset() == 0 and (
            tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size())
        tensors[name] = tensor if whole and storage not in storages else tensor.clone(
            memory_format=torch.contiguous_format)
        views[view] = name
        storages.add(storage)
    metadata = {"format": "pt"}
    if aliases:
        metadata[_ALIASES] = json.dumps(aliases)
    return tensors, metadata


def _qembed_version() -> str:
    from qembed import __version__
    return __version__
