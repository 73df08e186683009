"""What a run config describes, built: the data, the model, the components, the trainer
and the run folder. Everything is built and checked before a file is written; the run
folder is the trainer's ``log_dir`` (TensorBoard events, ``history.json``), with the
resolved ``config.yaml`` and ``checkpoints/`` beside them.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import torch
import yaml
from torch import nn

from qembed import hookimpl, models, plugins
from qembed.cli.config_errors import RunConfigError, blame
from qembed.cli.lr_schedule_check import rehearse_lr_scheduler
from qembed.cli.messages import one_line
from qembed.cli.run_schema import ENCODER_FROM, MODELS, RunConfig, check_keys
from qembed.data import LabelMap, PolysemyCorpus, TextCorpus, TextTokenizer
from qembed.data.tokenizer import TOKENIZER_FILE
from qembed.models.pretrained import LABELS_FILE, RUN_MODEL_FOLDER, TOKENIZER_FOLDER, PretrainedModel
from qembed.training import QuantumTrainer
from qembed.training.devices import resolve_device
from qembed.training.checkpoint_io import safe_load
from qembed.training.history import History
from qembed.training.optimizer_values import check_optimizer_values
from qembed.training.seeding import seed_everything

CHECKPOINTS = "checkpoints"
RESUMABLE = ("last.pth", "interrupted.pth")  # --resume RUN_DIR takes the newest (last.pth on a tie)


@attrs.frozen
class Data:
    """The loaders a run trains on, the model sizes they fix and a phrase for the console;
    for the embedded corpus and text files also the test loader, the tokenizer, the label map
    and the reading options a saved model keeps (``qembed predict`` reads text with them)."""

    train: Iterable[Any]
    val: Iterable[Any] | None
    sizes: dict[str, int]
    description: str
    #: the most tokens a sentence can have, where the data says (the embedded corpus, text files)
    max_sequence_length: int | None = None
    test: Iterable[Any] | None = None
    tokenizer: TextTokenizer | None = None
    labels: LabelMap | None = None
    options: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class PreparedRun:
    """A run with everything built and checked; :meth:`train` is the first step that writes."""

    config: RunConfig
    trainer: QuantumTrainer
    data: Data
    run_dir: Path
    resume_from: Path | None

    def train(self) -> History:
        """Train into the run folder (continuing ``resume_from`` when set)."""
        training = self.config.training
        return self.trainer.train(
            self.data.train, self.data.val, num_epochs=training.epochs,
            save_best_model=training.save_best_model,
            model_save_path=self.run_dir / "best_model.pth" if training.save_best_model else None,
            early_stopping_patience=training.early_stopping_patience,
            checkpoint_dir=self.run_dir / CHECKPOINTS if training.checkpoints else None,
            keep_best_checkpoint=training.keep_best_checkpoint, resume_from=self.resume_from,
            max_steps=training.max_steps, val_check_interval=training.val_check_interval,
            checkpoint_every_n_steps=training.checkpoint_every_n_steps, monitor=training.monitor,
            mode=training.mode, save_top_k=training.save_top_k,
        )

    def save_model(self) -> Path | None:
        """Write the trained model with its tokenizer, label map and data options as the run
        folder's ``model/`` (what ``qembed.load``, ``qembed predict`` and ``qembed evaluate``
        read); main process only, and only for qembed's ready models."""
        model = self.trainer.model
        if not self.trainer.is_main_process or not isinstance(model, PretrainedModel):
            return None
        data = self.data
        return model.save_pretrained(self.run_dir / RUN_MODEL_FOLDER, tokenizer=data.tokenizer, labels=data.labels,
                                     data_options=data.options)


class _ConfigRecord:
    """Writes the resolved config into the run folder when training starts: after a
    resumed checkpoint was checked, so a failed start leaves no file behind. A new run
    creates the file exclusively, before any other file: a run that took the folder since
    it was checked (one started in the same second) stops this one instead of sharing it."""

    def __init__(self, resolved: dict[str, Any], run_dir: Path, data: Data, *, new_run: bool) -> None:
        self.resolved = resolved
        self.run_dir = run_dir
        self.data = data
        self.new_run = new_run

    @hookimpl(tryfirst=True)
    def qembed_on_train_start(self, trainer: QuantumTrainer) -> None:
        if not trainer.is_main_process:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            with (self.run_dir / "config.yaml").open("x" if self.new_run else "w") as file:
                yaml.safe_dump(self.resolved, file, sort_keys=False)
        except FileExistsError:
            raise RunConfigError(f"the run folder {str(self.run_dir)!r} was taken by another run that started at "
                                 "the same time; start this one again") from None
        saved = self.run_dir / RUN_MODEL_FOLDER  # what a resumed run reads back (training them again could differ)
        if self.data.tokenizer is not None and not (saved / TOKENIZER_FOLDER).exists():
            self.data.tokenizer.save(saved / TOKENIZER_FOLDER)
        if self.data.labels is not None and not (saved / LABELS_FILE).exists():
            self.data.labels.save(saved / LABELS_FILE)


def prepare_run(config: RunConfig, *, resume: Path | None = None, hooks: Sequence[Any] = ()) -> PreparedRun:
    """Build the run ``config`` describes; ``resume``: a checkpoint or a run folder to
    continue. ``hooks``: plugin objects for this run's trainer (e.g. a console printer)."""
    timestamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir, checkpoint = resume_target(resume, config, timestamp) if resume else (config.new_run_dir(timestamp), None)
    continues_run_dir = checkpoint is not None and checkpoint.is_relative_to(run_dir)
    if not continues_run_dir and run_dir.is_dir() and any(run_dir.iterdir()):
        raise RunConfigError(f"{config.source}: [training] log_dir {str(run_dir)!r} already holds files; continue "
                             f"that run with --resume {run_dir}, or choose another log_dir")
    seed_everything(config.training.seed)
    tokenizer, labels = _saved_text_parts(run_dir, checkpoint) if checkpoint else (None, None)
    data = build_data(config, tokenizer=tokenizer, labels=labels)
    model = build_model(config, data, resuming=checkpoint is not None)
    record = _ConfigRecord(config.to_dict(run_dir), run_dir, data, new_run=not continues_run_dir)
    trainer = build_trainer(config, model, run_dir, [record, *hooks])
    with blame(config.source, "data"):
        steps = trainer.check_loaders(data.train, data.val)
    if config.lr_scheduler is not None:
        saved = safe_load(checkpoint, map_location="cpu") if checkpoint else None  # train() checks the rest
        resumed = saved.get("lr_scheduler_state") if isinstance(saved, dict) else None
        with blame(config.source, "lr_scheduler"):
            total = steps * config.training.epochs
            rehearse_lr_scheduler(config.lr_scheduler, trainer.require_optimizer("[lr_scheduler]"),
                                  min(total, config.training.max_steps or total), resumed=resumed,
                                  registry=trainer.registry)
    if trainer.distributed is not None:  # each rank read its own clock: all write where rank 0 does
        shared = [run_dir]
        torch.distributed.broadcast_object_list(shared, src=0, device=trainer.device)
        run_dir = trainer.log_dir = shared[0]
    return PreparedRun(config, trainer, data, run_dir, checkpoint)


def _saved_text_parts(run_dir: Path, checkpoint: Path) -> tuple[TextTokenizer | None, LabelMap | None]:
    """The tokenizer and label map a resumed run started with (saved in its run folder when
    training started): training a tokenizer again could give other token ids, and the
    files could have changed labels since."""
    for folder in (run_dir / RUN_MODEL_FOLDER, checkpoint.parent.parent / RUN_MODEL_FOLDER):
        if (folder / TOKENIZER_FOLDER).is_dir():
            labels = LabelMap.load(folder / LABELS_FILE) if (folder / LABELS_FILE).is_file() else None
            return TextTokenizer.load(folder / TOKENIZER_FOLDER), labels
    return None, None


def resume_target(path: Path, config: RunConfig, timestamp: str) -> tuple[Path, Path]:
    """``(run folder, checkpoint)`` for ``--resume PATH``: a run folder continues from its
    newest of ``checkpoints/last.pth`` and ``interrupted.pth`` (a stop after the last
    epoch's checkpoint is the newer); a checkpoint inside ``<run>/checkpoints/`` writes into
    ``<run>``, one elsewhere into a new run folder from ``[training] log_dir``."""
    if path.is_dir():
        found = [path / CHECKPOINTS / name for name in RESUMABLE if (path / CHECKPOINTS / name).is_file()]
        if found:
            return path, max(found, key=lambda file: file.stat().st_mtime_ns)  # max keeps the first on a tie
        raise RunConfigError(f"--resume {path}: the folder has no {CHECKPOINTS}/{RESUMABLE[0]} "
                             f"(nor {CHECKPOINTS}/{RESUMABLE[1]}) to continue from")
    if not path.is_file():
        raise RunConfigError(f"--resume {path}: no such checkpoint file or run folder")
    if path.parent.name == CHECKPOINTS:
        return path.parent.parent, path
    return config.new_run_dir(timestamp), path


def build_data(config: RunConfig, *, tokenizer: TextTokenizer | None = None, labels: LabelMap | None = None) -> Data:
    """The loaders of ``[data]``: the embedded corpus, text files or a user module's
    ``build()``. ``tokenizer`` and ``labels``: those a resumed or evaluated run saved, in
    place of training a new tokenizer and reading the labels again from text files (so
    token and label ids are the model's)."""
    data, source = config.data, config.source
    if data.module is not None:
        return _module_data(source, data.module, data.module_options)
    method = MODELS[config.model.name]
    if data.text_files:
        return _text_data(config, tokenizer, labels)
    with blame(source, "data"):
        corpus = PolysemyCorpus(**data.corpus_options)
        train, val, *test = getattr(corpus, method)(**data.loader_options)
    val = val if len(corpus.val) else None  # num_val = 0: no validation
    return Data(train, val, {"vocab_size": corpus.vocab_size, "num_labels": corpus.num_labels},
                f"the {data.corpus} corpus ({len(corpus.train)} sentences, {corpus.num_labels} labels)",
                corpus.max_sequence_length, test[0] if test and len(corpus.test) else None, corpus.tokenizer,
                LabelMap(corpus.label_names) if method == "loaders" else None,  # a masked LM has no labels
                {"lowercase": True, "max_length": corpus.max_sequence_length})


def _text_data(config: RunConfig, tokenizer: TextTokenizer | None, labels: LabelMap | None) -> Data:
    data, source = config.data, config.source
    options = dict(data.corpus_options)
    if labels is not None:
        options["labels"] = labels
    if tokenizer is not None:
        options["tokenizer"] = tokenizer
    elif config.model.encoder_from is not None:
        _check_encoder_tokenizer(config, options["tokenizer"])
    with blame(source, "data"):
        corpus = TextCorpus(**options)
        if MODELS[config.model.name] == "loaders" and corpus.num_labels < 2:
            raise ValueError(f"{config.model.name} needs at least 2 labels; the train split's "
                             f"{options['label_field']!r} field has {corpus.num_labels}")
        train, val, *test = getattr(corpus, MODELS[config.model.name])(**data.loader_options)
    labelled = f", {corpus.num_labels} labels" if corpus.labels is not None else ""
    return Data(train, val if len(corpus.val) else None,
                {"vocab_size": corpus.vocab_size, "num_labels": corpus.num_labels},
                f"{options['train']} ({len(corpus.train)} texts{labelled}, vocabulary {corpus.vocab_size})",
                corpus.max_sequence_length, test[0] if test and len(corpus.test) else None, corpus.tokenizer,
                corpus.labels, corpus.options)


def _check_encoder_tokenizer(config: RunConfig, tokenizer: Any) -> None:
    """A model that starts from a saved encoder reads its token ids: a newly trained tokenizer
    would give other ids, so ``[data] tokenizer`` must be the saved model's."""
    from qembed.models.pretrained import saved_tokenizer_folder

    saved = saved_tokenizer_folder(config.model.encoder_from)
    if saved is not None and not (isinstance(tokenizer, (str, Path)) and _same_tokenizer(Path(tokenizer), saved)):
        raise RunConfigError(f"{config.source}: [model] encoder_from = {config.model.encoder_from!r} was trained "
                             f"with its own tokenizer; set [data] tokenizer = {str(saved)!r} so the token ids match "
                             f"(got {tokenizer!r})")


def _same_tokenizer(given: Path, saved: Path) -> bool:
    """Whether ``given`` is the tokenizer folder ``saved`` or a copy of it."""
    if given.resolve() == saved.resolve():
        return True
    files = [folder.resolve() / TOKENIZER_FILE for folder in (given, saved)]
    return all(file.is_file() for file in files) and files[0].read_bytes() == files[1].read_bytes()


def build_model(config: RunConfig, data: Data, *, resuming: bool = False) -> nn.Module:
    """The ``[model]`` class with its options, sized by the data, starting from
    ``encoder_from`` unless ``resuming`` (the checkpoint holds the weights then)."""
    cls = getattr(models, config.model.name)
    accepted = inspect.signature(cls).parameters
    with blame(config.source, "model"):
        model = cls(**{key: size for key, size in data.sizes.items() if key in accepted}, **config.model.options)
    if config.model.encoder_from is not None and not resuming:
        try:
            model.load_encoder(config.model.encoder_from)
        except (ValueError, TypeError, KeyError, OSError) as err:
            raise RunConfigError(f"{config.source}: [model] {ENCODER_FROM} = {config.model.encoder_from!r}: "
                                 f"{one_line(err)}") from err
    longest = data.max_sequence_length
    capacity = config.model.options.get("max_length", accepted["max_length"].default) if (
        "max_length" in accepted) else None
    if longest is not None and isinstance(capacity, int) and capacity < longest:
        raise RunConfigError(f"{config.source}: [model] max_length={capacity} is shorter than the corpus's "
                             f"sentences (up to {longest} tokens): set it >= {longest}, or lower [data] max_length")
    return model


def build_trainer(config: RunConfig, model: nn.Module, run_dir: Path, hooks: Sequence[Any]) -> QuantumTrainer:
    """The optimizer, loss and loggers by name, then the trainer over ``model`` (which builds
    the LR scheduler by name when training starts, knowing the run's steps), given the run
    config's sections as hyperparameters (``[quantum]`` is its own config)."""
    source = config.source
    with blame(source, "training"):
        resolve_device(config.training.device)  # checked here; the trainer picks the device for each torchrun rank
    with blame(source, "optimizer"):
        optimizer = plugins.create("optimizers", config.optimizer, model.parameters())
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{config.optimizer['name']!r} built a {type(optimizer).__name__}, not a torch Optimizer")
        check_optimizer_values(optimizer)
    loss = None
    if config.loss is not None:
        with blame(source, "loss"):
            loss = plugins.create("losses", config.loss)
    with blame(source, "training"):
        loggers = [plugins.create("loggers", spec, run_dir) for spec in config.training.loggers]
    hyperparameters = {section: values for section, values in config.to_dict(run_dir).items() if section != "quantum"}
    with blame(source, "quantum"):
        return QuantumTrainer(model, optimizer, loss, config.quantum, device=config.training.device, log_dir=run_dir,
                              plugins=hooks, progress_bar=config.training.progress_bar, epoch_table=False,
                              seed=config.training.seed, lr_scheduler=config.lr_scheduler, loggers=loggers,
                              compile=config.training.compile,
                              hyperparameters=hyperparameters)


def _module_data(source: str, name: str, options: dict[str, Any]) -> Data:
    build = getattr(_import(source, name), "build", None)
    if not callable(build):
        raise RunConfigError(f"{source}: [data] module {name!r} has no build() function; define "
                             "build(**options) -> (train_loader, val_loader)")
    signature = inspect.signature(build)
    with blame(source, "data"):
        if all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
            check_keys(options, ["module", *signature.parameters])
        signature.bind(**options)  # a missing option, before build() runs
    loaders = build(**options)  # an error inside is the module's own, with its traceback
    if not isinstance(loaders, (tuple, list)) or len(loaders) != 2:
        raise RunConfigError(f"{source}: [data] {name}.build() must return (train_loader, val_loader), "
                             f"got {type(loaders).__name__}")
    return Data(loaders[0], loaders[1], {}, f"data from {name}")


def _import(source: str, name: str) -> ModuleType:
    """A ``.py`` file by path, or a module by dotted name."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise RunConfigError(f"{source}: [data] module {name!r}: no such file")
        module_name = f"_qembed_data_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is None or not (name == err.name or name.startswith(f"{err.name}.")):
            raise  # the module exists; something it imports does not
        raise RunConfigError(f"{source}: [data] module {name!r} cannot be imported ({err}); give a .py file path "
                             "or a module on PYTHONPATH") from None
