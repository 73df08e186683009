"""``QuantumTrainer``: the quantum-aware training loop.

One optimizer step does, in order: set the collapse probability the schedule gives
for this step on every collapse-aware module; forward (under autocast when mixed
precision is on); the loss and the quantum terms; backward; at the end of a
gradient-accumulation window unscale, clip, step and zero the gradients. Metrics
stay on the device and are read once every ``log_every_n_steps`` optimizer steps
and at the end of each epoch, so the loop never waits for the device in between.

Lifecycle hooks, in order: ``qembed_on_train_start``; ``qembed_on_log`` every
``log_every_n_steps`` optimizer steps; per epoch ``qembed_on_validation_end`` (when
validating) then ``qembed_on_epoch_end``; ``qembed_on_checkpoint`` after a file is
complete; ``qembed_on_train_end``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DistributedSampler

from qembed.metrics.sense import IGNORE_INDEX
from qembed.metrics.uncertainty import sampled_uncertainty
from qembed.nn.collapse import collapse_aware_modules
from qembed.nn.embeddings import collapse_sampling, quantum_embedding_layers
from qembed.nn.entanglement import EntanglementLayer, pair_summary
from qembed.nn.roles import role_of
from qembed.plugins import PluginRegistry, default_registry
from qembed.plugins.contracts import Logger, Schedule
from qembed.plugins.suppliers import ComponentSuppliers
from qembed.training.batches import (
    ModelCall,
    as_output,
    field,
    first_examples,
    original_module,
    replace_fields,
    token_count,
    with_sample_logits,
    without_entanglement,
)
from qembed.training import checkpoint, logger_relay, rng_state, run_folder, run_lock
from qembed.training.checkpoint import RunState
from qembed.training.compilation import compile_module, compile_options, is_compiled, mark_dynamic
from qembed.training.checkpoint_io import (
    atomic_save,
    atomic_write_bytes,
    load_model_state,
    load_state_dict_checked,
    safe_load,
)
from qembed.training.config import ConfigError, QuantumTrainingConfig, create_component
from qembed.training.console import EpochTable
from qembed.training.devices import Precision, resolve_device, to_device
from qembed.training.distributed import Distributed, ShardSampler
from qembed.training.errors import TrainingDivergedError
from qembed.training.examples import batch_size, concat_batches
from qembed.training.history import History
from qembed.training.hyperparameters import trainer_hyperparameters
from qembed.training.interruption import EpochPosition, StopFlag, TrainingInterrupted
from qembed.training.lifecycle import Lifecycle
from qembed.training.logger_relay import logger_specs
from qembed.training.loss_call import LossCall, with_uncertainty_penalty
from qembed.training.loss_terms import LossTerms
from qembed.training.monitor import Monitor, RunChecks, best_file, produced_metrics
from qembed.training.optimizer_values import check_optimizer_values
from qembed.training.progress import EpochProgress
from qembed.training.run_defaults import RunDefaults
from qembed.training.seeding import seed_everything
from qembed.training.step_metrics import STEP_METRICS, MetricSums, read, step_metrics
from qembed.training.step_plan import StepPlan
from qembed.training.validation_metrics import ValidationTotals

if TYPE_CHECKING:
    from qembed.inference.predictions import Predictions

#: Seeds the generator of evaluation's collapse samples (its own: training's stream is untouched).
EVALUATION_SEED = 0



def _naming_failing_plugins(method: Callable[..., Any]) -> Callable[..., Any]:
    """Re-raise what a plugin's component raised inside ``method`` as a PluginComponentError
    naming the component and its plugin (see qembed.plugins.suppliers)."""

    @functools.wraps(method)
    def named(self: QuantumTrainer, *args: Any, **kwargs: Any) -> Any:
        with self._suppliers.named():
            return method(self, *args, **kwargs)

    return named

class QuantumTrainer:
    """Trains a quantum-enhanced model with a superposition schedule, quantum
    regularisation, clipping and replay, all chosen by string name or object.

    ``optimizer``: a ``torch.optim.Optimizer``, or a registered name / ``{"name": ...,
    **options}`` spec built over ``model.parameters()``; ``None`` makes a trainer that
    evaluates and predicts only (:meth:`test`, :meth:`validate`, :meth:`predict`), whose
    :meth:`train` raises. ``loss_fn``: an ``nn.Module``,
    a name or spec, or ``None`` to use the loss the model returns itself.
    ``quantum_training_config``: a dict or :class:`QuantumTrainingConfig`.
    ``lr_scheduler``: a registered LR scheduler name or ``{"name": ..., **options}`` spec
    (built at the start of each ``train()`` call with that call's optimizer steps as
    ``total_steps``), a ``torch.optim.lr_scheduler.LRScheduler`` over the trainer's
    optimizer, or a callable that builds one from it; stepped after every optimizer
    step and saved in checkpoints. ``device``: ``None`` picks CUDA when available. ``log_dir``: the run folder, where
    ``history.json`` and the loggers' files go. ``plugins``: plugin objects for this trainer only. ``loggers``: logger
    names, ``{"name": ..., **options}`` specs or built loggers (``None``: TensorBoard when there is a ``log_dir``).
    ``hyperparameters``: a mapping of sections (``{"data": {...}}``) added to the hyperparameters every logger
    receives (:attr:`hyperparameters`, see :mod:`qembed.training.hyperparameters`).
    ``compile``: ``True`` or ``torch.compile`` options (``{"mode": ..., "dynamic": ...,
    "fullgraph": ..., "backend": ...}``) compile the model's forward for training and
    evaluation. A model compiled by the user (``torch.compile(model)``) is called as given.
    Either way :attr:`model` is the plain module, so checkpoints and saved weights carry
    its own ``state_dict`` keys.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Any = None,
        loss_fn: Any = None,
        quantum_training_config: QuantumTrainingConfig | dict[str, Any] | None = None,
        *,
        device: str | torch.device | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        plugins: Sequence[Any] = (),
        progress_bar: bool = True,
        epoch_table: bool = True,
        seed: int | None = None,
        lr_scheduler: str | Mapping[str, Any] | LRScheduler | Callable[[torch.optim.Optimizer], LRScheduler]
        | None = None,
        loggers: Sequence[Any] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        compile: bool | Mapping[str, Any] = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self._compile = compile_options(compile)
        given, model = model, original_module(model)
        if given is not model and self._compile is not None:
            raise ConfigError(f"compile={compile!r} compiles the model, but it is compiled already (torch.compile); "
                              "pass the plain model, or leave compile out")
        self.config = QuantumTrainingConfig.from_value(quantum_training_config)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.epoch_table = epoch_table
        self._logger_specs = logger_specs(loggers, self.log_dir)
        relay = [logger_relay] if self._logger_specs else []  # a trainer without loggers pays nothing
        table = [EpochTable()] if epoch_table else []
        self.registry: PluginRegistry = default_registry().for_trainer(self, [*plugins, *table, *relay])
        self.distributed = Distributed() if self.config.distributed_training else None
        if self.distributed is None:
            self.device = resolve_device(device)
        else:
            self.device = self.distributed.device(None if device is None else resolve_device(device))
        if seed is not None:
            seed_everything(seed)
        if self.config.quantum_sync:  # each rank draws its own collapses, reproducibly
            torch.manual_seed((seed or 0) + self.distributed.rank)  # type: ignore[union-attr]  # quantum_sync needs distributed_training
        self.progress_bar = progress_bar
        self._suppliers = ComponentSuppliers()  # to name the plugin whose component raises
        self.schedule = self._create("superposition_schedule", "schedules", self.config.superposition_schedule)
        self._schedule_name = (self._suppliers.label("superposition_schedule")
                               or _component_name(self.config.superposition_schedule))
        self.clipping = self._create("clipping", "clipping", self.config.clipping_spec())
        self.replay = self._create("quantum_memory_replay", "replay", self.config.replay_spec())
        self.loss_fn = self._create("loss_fn", "losses", loss_fn) if loss_fn is not None else None
        supplied = self._suppliers.label("loss_fn")  # a plugin's loss is named in errors about what it returns
        self._loss_call = LossCall(self.loss_fn, f"loss {supplied}" if supplied else None) if (
            self.loss_fn is not None) else None
        draws_samples = self._loss_call is not None and self._loss_call.mc_samples > 1
        if self.distributed is not None and draws_samples and not self.config.quantum_parallel:
            raise ConfigError(
                "quantum_training_config['distributed_training'] with a loss that draws collapse samples needs "
                "'quantum_parallel': True (DistributedDataParallel allows one forward per backward)"
            )
        if self.config.quantum_parallel and not draws_samples and self.config.uncertainty_samples < 2:
            raise ConfigError(
                "quantum_training_config['quantum_parallel'] batches collapse samples, but none are drawn: "
                f"{type(self.loss_fn).__name__} draws none and 'uncertainty_samples' is "
                f"{self.config.uncertainty_samples}; set uncertainty_samples >= 2, use a sampling loss such as "
                "{'name': 'uncertainty', 'uncertainty_type': 'mutual_information'}, or set quantum_parallel to False"
            )
        self.model = model
        if optimizer is None and lr_scheduler is not None:
            raise ConfigError(f"lr_scheduler={lr_scheduler!r} schedules an optimizer, but optimizer is None (a "
                              "trainer for evaluation only); give an optimizer, or leave lr_scheduler out")
        # moving the model later keeps its parameters
        self.optimizer: torch.optim.Optimizer | None = None if optimizer is None else self._build_optimizer(optimizer)
        self._lr_scheduler_spec = self._lr_scheduler_name(lr_scheduler)
        self.lr_scheduler = None if self._lr_scheduler_spec is not None else self._build_lr_scheduler(lr_scheduler)
        self.loggers: list[Logger] = self._build_loggers()
        self._run_folder_chosen = False  # train() picks log_dir or a version_N folder in it, once
        #: what every logger receives as hyperparameters: flat ``name -> value``
        self.hyperparameters = trainer_hyperparameters(
            config=self.config.to_dict(), model=model, optimizer_spec=optimizer, optimizer=self.optimizer,
            loss_spec=loss_fn, loss=self.loss_fn, given=hyperparameters)
        # everything above only checked and built; from here on the model is changed
        self.model.to(self.device)
        self._configure_model()
        if isinstance(self.loss_fn, nn.Module):
            self.loss_fn.to(self.device)
        # what forward calls: the model itself, or its DistributedDataParallel wrapper
        self._network: nn.Module | Callable[..., Any] = (
            self.distributed.wrap(given, self.device) if self.distributed else given)
        # evaluation's collapse samples draw from a torch.Generator, which cannot enter a compiled graph
        self._sampling_network = self._network if given is model else self.model
        if self._compile is not None:
            self._network = compile_module(self._network, self._compile)
        self._marks_dynamic = (self._compile is not None or is_compiled(given)) and (
            self._compile or {}).get("dynamic") is not False
        self._sharded: dict[int, Any] = {}
        self._model_call = ModelCall(self.model, pass_labels=self.loss_fn is None)
        self.precision = Precision.resolve(self.config.mixed_precision, self.device)
        self.scaler = self.precision.grad_scaler(guard_nonfinite=self.config.max_nonfinite_steps is not None)
        self._collapse_modules = collapse_aware_modules(self.model)
        self._lifecycle = Lifecycle(self.registry)
        self.training_history = History()
        self.global_step = 0
        self.epoch = 0
        self.collapse_probability = 0.0
        self._applied_probability: float | None = None  # what the modules hold now
        self._grad_norms: dict[str, Tensor] = {}
        # non-finite steps, counted on the device: (skipped in total, longest run since last read, current run)
        self._nonfinite = torch.zeros(3, device=self.device)
        self.last_checkpoint: Path | None = None
        self.last_outputs: Any = None
        self._run: RunState | None = None  # the running train() call
        #: what ``train()`` uses for the arguments it is not given
        self.run_defaults = RunDefaults()
        self._stop_requested = False
        self._stop = StopFlag()  # set by SIGINT / SIGTERM while train() runs
        self._position: EpochPosition | None = None  # how far the running epoch got
        self._resume_position: EpochPosition | None = None  # where a resumed epoch continues
        self._unfinished: EpochPosition | None = None  # an epoch max_steps stopped, for the next train() call
        self._checks: RunChecks | None = None  # what the running train() call checks and saves
        #: the best of the top-k checkpoint files the last ``train`` call kept (``None``: none kept)
        self.best_checkpoint: Path | None = None
        self._evaluation_generator = torch.Generator(device=self.device)

    @classmethod
    def from_training_arguments(
        cls,
        args: Any,
        model: nn.Module,
        loss_fn: Any = None,
        quantum_training_config: QuantumTrainingConfig | dict[str, Any] | None = None,
        *,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        data_collator: Callable[[list[Any]], Any] | None = None,
        optimizer: Any = "quantum",
        **trainer_options: Any,
    ) -> QuantumTrainer:
        """A trainer set up from Hugging Face ``TrainingArguments`` (needs the ``hf``
        extra): loaders from the datasets, the optimizer (``optimizer``: a name or spec,
        given the arguments' lr, weight decay, betas and eps), HF's LR schedule, clipping,
        precision, seed, TensorBoard ``logging_dir`` and checkpoints in ``output_dir``;
        ``trainer.train()`` then runs the epochs they describe. Fields it cannot honour
        warn by name (``docs/integrations.md`` lists each field's meaning)."""
        from qembed.integrations.hf.training_arguments import trainer_from_training_arguments

        return trainer_from_training_arguments(
            cls, args, model, loss_fn, quantum_training_config, train_dataset=train_dataset,
            eval_dataset=eval_dataset, data_collator=data_collator, optimizer=optimizer, **trainer_options)

    # --- construction -------------------------------------------------------------

    def _build_loggers(self) -> list[Logger]:
        """The loggers ``loggers=`` names, writing to the current :attr:`log_dir` (built
        objects as given: they chose their own store)."""
        return [self._create(f"loggers[{index}]", "loggers", spec, self.log_dir)
                for index, spec in enumerate(self._logger_specs)]

    def _create(self, key: str, kind: str, spec: Any, *args: Any) -> Any:
        component = create_component(self.registry, key, kind, spec, *args)
        self._suppliers.add(key, self.registry.registration_of(kind, spec), component)
        return component

    def _build_optimizer(self, optimizer: Any) -> torch.optim.Optimizer:
        built = self._create("optimizer", "optimizers", optimizer, *(
            () if isinstance(optimizer, torch.optim.Optimizer) else (self.model.parameters(),)))
        if not isinstance(built, torch.optim.Optimizer):
            raise ConfigError(f"optimizer: {optimizer!r} built a {type(built).__name__}, not a torch Optimizer")
        check_optimizer_values(built)
        return built

    def _lr_scheduler_name(self, lr_scheduler: Any) -> dict[str, Any] | None:
        """A name or spec as a spec whose name is registered (checked now; it is built when
        ``train()`` knows the run's steps); ``None`` for anything else."""
        if not isinstance(lr_scheduler, (str, Mapping)):
            return None
        spec = {"name": lr_scheduler} if isinstance(lr_scheduler, str) else dict(lr_scheduler)
        try:
            self.registry.lookup("lr_schedulers", spec.get("name"))  # type: ignore[arg-type]  # a wrong type is named
        except KeyError as err:
            raise ConfigError(f"lr_scheduler: {err}") from err
        return spec

    def _build_lr_scheduler(self, lr_scheduler: Any, total_steps: int | None = None) -> LRScheduler | None:
        """The scheduler of a run of ``total_steps`` optimizer steps: built from the spec
        (whose own ``total_steps`` wins), from a callable, or the one given."""
        built_by = "callable"
        if self._lr_scheduler_spec is not None:
            built_by = repr(self._lr_scheduler_spec["name"])
            spec = {"total_steps": total_steps, **self._lr_scheduler_spec}
            lr_scheduler = self._create("lr_scheduler", "lr_schedulers", spec, self.optimizer)
        elif lr_scheduler is None:
            return None
        elif not isinstance(lr_scheduler, LRScheduler):
            if not callable(lr_scheduler):
                raise TypeError("lr_scheduler must be a registered name, a {'name': ..., **options} spec, a torch "
                                "LRScheduler or a callable building one from the optimizer, got "
                                f"{type(lr_scheduler).__name__}")
            lr_scheduler = lr_scheduler(self.optimizer)
        if not isinstance(lr_scheduler, LRScheduler):
            raise TypeError(f"the lr_scheduler {built_by} returned a {type(lr_scheduler).__name__}, "
                            "not a torch LRScheduler")
        if lr_scheduler.optimizer is not self.optimizer:
            raise ValueError("lr_scheduler schedules a different optimizer than the trainer's; build it over "
                             "trainer.optimizer, or pass a callable that takes the optimizer")
        return lr_scheduler

    def _configure_model(self) -> None:
        """Apply the config keys that act on the model itself: every check first, so a
        bad key leaves the model untouched, then the changes."""
        config = self.config
        sequential = config.collapse_optimization == "sequential"
        embeddings = quantum_embedding_layers(self.model)
        entanglement = [m for m in self.model.modules() if isinstance(m, EntanglementLayer)]
        needs = {
            "collapse_strategy": (config.collapse_strategy is not None,
                                  [layer for layer in embeddings if layer.collapse_enabled],
                                  "QuantumEmbeddings layer that collapses (collapse=True)"),
            "collapse_optimization": (sequential, embeddings, "QuantumEmbeddings layer"),
            "entanglement_optimization": (config.entanglement_optimization is not None, entanglement,
                                          "EntanglementLayer"),
            "quantum_memory_efficient": (config.quantum_memory_efficient, entanglement, "EntanglementLayer"),
        }
        for key, (wanted, layers, what) in needs.items():
            if wanted and not layers:
                raise ConfigError(f"quantum_training_config[{key!r}] is set but the model has no {what} to apply it to")
        enable = getattr(self.model, "gradient_checkpointing_enable", None)
        if config.gradient_checkpointing and not callable(enable):
            raise ConfigError("quantum_training_config['gradient_checkpointing'] needs a model with "
                              f"gradient_checkpointing_enable(); {type(self.model).__name__} has none")
        strategies = [self._create("collapse_strategy", "collapse", config.collapse_strategy)
                      for _ in embeddings] if config.collapse_strategy is not None else []
        for layer, strategy in zip(embeddings, strategies):
            layer.collapse = strategy
        for layer in embeddings:
            layer.sequential = sequential
        for entangler in entanglement:
            entangler.mode = config.entanglement_optimization or entangler.mode
            entangler.memory_efficient = config.quantum_memory_efficient
        if config.gradient_checkpointing:
            enable()  # type: ignore[misc]  # checked callable above
        if not config.entanglement_training:
            for parameter in self.model.parameters():
                if role_of(parameter) == "entanglement":
                    parameter.requires_grad_(False)

    # --- public API ----------------------------------------------------------------

    @property
    def is_main_process(self) -> bool:
        """Whether this process writes files, logs and the progress bar (rank 0, or the only one)."""
        return self.distributed is None or self.distributed.is_main

    def require_optimizer(self, action: str) -> torch.optim.Optimizer:
        """The trainer's optimizer; raises :class:`ConfigError` naming ``action`` when it
        was built with ``optimizer=None`` (evaluation and prediction only)."""
        if self.optimizer is None:
            raise ConfigError(f"no optimizer: this QuantumTrainer was built with optimizer=None, for test(), "
                              f"validate() and predict() only; {action} needs one, e.g. "
                              "QuantumTrainer(model, 'adamw', ...)")
        return self.optimizer

    @_naming_failing_plugins
    def train(
        self,
        train_dataloader: Iterable[Any] | None = None,
        val_dataloader: Iterable[Any] | None = None,
        num_epochs: int | None = None,
        save_best_model: bool = False,
        model_save_path: str | os.PathLike[str] | None = None,
        early_stopping_patience: int | None = None,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        restore_best_weights: bool | None = None,
        keep_best_checkpoint: bool | None = None,
        max_steps: int | None = None,
        val_check_interval: int | float | None = None,
        checkpoint_every_n_steps: int | None = None,
        monitor: str | None = None,
        mode: str | None = None,
        save_top_k: int | None = None,
        min_delta: float | None = None,
    ) -> History:
        """Train for ``num_epochs`` epochs, or ``max_steps`` optimizer steps when fewer;
        returns (and keeps in ``training_history``) the history, a dict of per-epoch lists.
        Calling it again continues the run: epochs and steps keep counting and the history grows.

        ``val_check_interval``: validate every that many optimizer steps (an int) or that
        fraction of an epoch (a float), besides every epoch end. ``monitor`` (a history
        metric; ``val_loss``, or ``train_loss`` without a val loader), ``mode`` (``"min"``
        or ``"max"``) and ``min_delta`` (default: the config's ``early_stopping_min_delta``)
        decide what improves, for ``early_stopping_patience`` (monitor checks without
        improvement), ``save_best_model`` (a model-only export to ``model_save_path``) and
        ``restore_best_weights`` (end with the best check's weights).

        ``checkpoint_dir``: write ``last.pth`` after every epoch and every
        ``checkpoint_every_n_steps`` steps, and keep the ``save_top_k`` best checkpoints as
        ``epoch=E-step=S-<monitor>=V.pth`` (-1 all, 0 none; default 1, 0 with
        ``keep_best_checkpoint=False``); ``interrupted.pth`` on Ctrl-C or SIGTERM (the step
        finishes, the file records where in the epoch the run stopped and
        :class:`~qembed.training.interruption.TrainingInterrupted` is raised). A file written
        mid-epoch resumes exactly there. ``resume_from``: continue the run a checkpoint came
        from; ``num_epochs`` and ``max_steps`` count from that run's start.

        Arguments left as ``None`` come from :attr:`run_defaults` (10 epochs, no
        checkpoints, unless :meth:`from_training_arguments` set them).
        """
        self.require_optimizer("train()")  # before anything is checked, built or written
        defaults = self.run_defaults
        train_dataloader = defaults.train_dataloader if train_dataloader is None else train_dataloader
        val_dataloader = defaults.val_dataloader if val_dataloader is None else val_dataloader
        num_epochs = defaults.num_epochs if num_epochs is None else num_epochs
        checkpoint_dir = defaults.checkpoint_dir if checkpoint_dir is None else checkpoint_dir
        restore_best_weights = defaults.restore_best_weights if restore_best_weights is None else restore_best_weights
        explicit_keep_best = keep_best_checkpoint
        keep_best_checkpoint = defaults.keep_best_checkpoint if keep_best_checkpoint is None else keep_best_checkpoint
        max_steps = defaults.max_steps if max_steps is None else max_steps
        val_check_interval = defaults.val_check_interval if val_check_interval is None else val_check_interval
        checkpoint_every_n_steps = (defaults.checkpoint_every_n_steps if checkpoint_every_n_steps is None
                                    else checkpoint_every_n_steps)
        monitor = defaults.monitor if monitor is None else monitor
        mode = defaults.mode if mode is None else mode
        save_top_k = defaults.save_top_k if save_top_k is None else save_top_k
        if train_dataloader is None:
            raise ValueError("train() needs train_dataloader (a DataLoader or a list of batches)")
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
            raise ValueError(f"num_epochs must be an integer >= 1, got {num_epochs!r}")
        if early_stopping_patience is not None and (
            isinstance(early_stopping_patience, bool) or not isinstance(early_stopping_patience, int)
            or early_stopping_patience < 0
        ):
            raise ValueError(f"early_stopping_patience must be None or an integer >= 0, got {early_stopping_patience!r}")
        if save_best_model and model_save_path is None:
            raise ValueError("save_best_model=True needs model_save_path (where to write the best model)")
        if explicit_keep_best is False and save_top_k not in (None, 0):
            raise ValueError(f"keep_best_checkpoint=False keeps no best checkpoint but save_top_k={save_top_k!r} "
                             "asks to keep some; give one of them")
        train_dataloader, val_dataloader, steps = self._checked_loaders(train_dataloader, val_dataloader)
        plan = StepPlan.checked(max_steps, val_check_interval, checkpoint_every_n_steps, steps,
                                validates=val_dataloader is not None)
        watched = Monitor.checked(
            monitor or ("val_loss" if val_dataloader is not None else "train_loss"), mode,
            self.config.early_stopping_min_delta if min_delta is None else min_delta,
            (1 if keep_best_checkpoint else 0) if save_top_k is None else save_top_k,
            produced_metrics(validates=val_dataloader is not None))
        if self._lr_scheduler_spec is not None and self.lr_scheduler is None:
            # a schedule by name spans the first train() call's steps (or the resumed run's, whose state
            # the checkpoint restores); later calls continue it, as a scheduler given built does
            total = num_epochs * steps
            self.lr_scheduler = self._build_lr_scheduler(None, min(total, max_steps or total))
        generator = rng_state.sampler_generator(train_dataloader)
        if resume_from is None and self.global_step == 0 and self.is_main_process and not self._run_folder_chosen:
            self._choose_run_folder()
        folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
        writes = [folder, self.log_dir] if self.is_main_process else []
        with ExitStack() as held:
            held.enter_context(run_lock.locked(writes))  # one writer per folder, until train() returns or raises
            run = RunState(start_epoch=self.epoch, num_epochs=num_epochs, steps_per_epoch=steps,
                           max_steps=plan.max_steps, log_dir=None if self.log_dir is None else str(self.log_dir))
            # an epoch a previous call's max_steps stopped part-way goes on where it stopped
            self._position, self._resume_position, self._unfinished = None, self._unfinished, None
            if resume_from is not None:
                run = self._resume(resume_from, run, generator)
                self._continue_in_run_folder(run, held)
            if self.config.log_every_n_steps > run.total_steps - run.run_step:
                warnings.warn(f"log_every_n_steps={self.config.log_every_n_steps} is more than the "
                              f"{run.total_steps - run.run_step} optimizer steps this run takes: only its last "
                              "step is logged", UserWarning, stacklevel=3)
            checks = RunChecks(watched, plan, val_dataloader, folder, generator, early_stopping_patience,
                               model_save_path if save_best_model else None, restore_best_weights)
            self._stop_requested = False
            self._run, self._checks = run, checks
            self._lifecycle.call("qembed_on_train_start", trainer=self)
            held.enter_context(self._stop.installed())  # SIGINT / SIGTERM stop at a step boundary
            try:
                while self.epoch < run.end_epoch and run.run_step < run.total_steps and not self._stop_requested:
                    self._stop_if_signalled(at_log=True)
                    set_epoch = getattr(getattr(train_dataloader, "sampler", None), "set_epoch", None)
                    if set_epoch is not None:  # a DistributedSampler reshuffles per epoch
                        set_epoch(self.epoch)
                    row = {f"train_{k}" if k == "loss" else k: v
                           for k, v in self.train_epoch(train_dataloader, self.epoch).items()}
                    if val_dataloader is not None:
                        row.update({f"val_{k}": v for k, v in self.validate(val_dataloader).items()})
                    epoch = row["epoch"] = self.epoch
                    self.training_history.record(row)
                    position = self._position
                    if (position is not None and run.run_step >= run.total_steps
                            and position.batches_done < len(train_dataloader)):
                        self._unfinished = position  # max_steps stopped it: last.pth keeps where, to go on
                    else:
                        self.epoch += 1
                        self._position = None  # the epoch is complete
                    self._write_history()
                    stops = self._monitor_check(row, epoch)  # before last.pth, which records the check
                    if folder is not None:
                        self.save_checkpoint(folder / "last.pth", _sampler=generator)
                    self._lifecycle.call("qembed_on_epoch_end", trainer=self, epoch=epoch, metrics=row)
                    if stops:
                        break
            except KeyboardInterrupt:
                if folder is not None:
                    self.save_checkpoint(folder / "interrupted.pth", _sampler=generator)
                self._lifecycle.call("qembed_on_train_end", trainer=self, history=self.training_history)
                raise
            finally:
                self._run, self._checks = None, None
            if checks.best_weights is not None:
                self.model.load_state_dict(checks.best_weights)
                self._applied_probability = None  # the weights brought their own collapse probability
            self._lifecycle.call("qembed_on_train_end", trainer=self, history=self.training_history)
            return self.training_history

    def _choose_run_folder(self) -> None:
        """Write into ``log_dir``, or a fresh ``version_N`` folder in it when an earlier run's
        files are there (a new run never mixes into an old one's); chosen once per trainer."""
        if self.log_dir is None:
            return
        run_dir = run_folder.new_run_folder(self.log_dir)
        if run_dir != self.log_dir:
            given, self.log_dir = self.log_dir, run_dir
            try:
                self.loggers = self._build_loggers()  # the loggers by name write to the new folder
            except BaseException:
                self.log_dir = given
                raise
        self._run_folder_chosen = True  # a retried first call must not nest version_1/version_1

    def save_checkpoint(self, path: str | os.PathLike[str], *, _sampler: Any = None) -> Path | None:
        """Write a full training checkpoint atomically (model, optimizer, scaler, replay
        buffer, run position, early stopping, history, config, RNG states);
        ``qembed_on_checkpoint`` follows once the file is complete. In a distributed
        run the main process writes this file and every other rank its own replay
        buffer and RNG states beside it (returning ``None``)."""
        self.require_optimizer("save_checkpoint()")  # a training checkpoint holds its state; save_model() does not
        if not self.is_main_process:
            atomic_save(checkpoint.build_rank_part(self, _sampler), checkpoint.rank_path(path, self.distributed.rank))  # type: ignore[union-attr]  # a rank > 0
            return None
        target = atomic_save(checkpoint.build(self, self._run, _sampler), path)
        self.last_checkpoint = target
        self._lifecycle.call("qembed_on_checkpoint", trainer=self, path=str(target))
        return target

    def _monitor_check(self, metrics: Mapping[str, float], epoch: int) -> bool:
        """One check of the monitored metric in ``metrics`` (an epoch's row, or a mid-epoch
        validation's): the best-model export, the best weights and the top-k checkpoint
        files follow an improvement; returns whether early stopping ends the run."""
        checks, run = self._checks, self._run
        assert checks is not None and run is not None  # only while train() runs
        watched = checks.monitor
        if watched.metric not in metrics:
            raise ValueError(f"monitor={watched.metric!r}: this run's metrics have no such value (they are "
                             f"{', '.join(sorted(metrics))}); monitor one of them")
        value = float(metrics[watched.metric])
        score = watched.score(value)
        improved = watched.improves(score, run.best)
        run.best, run.stale = (score, 0) if improved else (run.best, run.stale + 1)
        if improved and checks.model_save_path is not None:
            self.save_model(checks.model_save_path)
        if improved and checks.restore_best_weights:
            checks.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        if checks.folder is not None and watched.keeps(score, run.kept):
            name = watched.filename(epoch, self.global_step, value)
            dropped = list(watched.admit(score, name, run.kept))
            self.save_checkpoint(checks.folder / name, _sampler=checks.sampler)  # first: a failed write keeps the old
            for file in dropped:
                self._remove_checkpoint(checks.folder / file)
        self.best_checkpoint = best_file(checks.folder, run.kept)
        patience = checks.patience
        return patience is not None and not improved and run.stale >= patience

    def _step_checks(self, run: RunState, epoch_step: int) -> None:
        """After an optimizer step inside an epoch: validate and check the monitor, and write
        ``last.pth``, when the step plan says (the epoch's or run's end does both anyway)."""
        checks = self._checks
        if checks is None or epoch_step == run.steps_per_epoch or run.run_step == run.total_steps:
            return
        saves = checks.folder is not None and checks.plan.checkpoints_at(run.run_step)
        if checks.val_dataloader is not None and checks.plan.validates_at(run.run_step, epoch_step):
            metrics = {f"val_{k}": v for k, v in self.validate(checks.val_dataloader).items()}  # hooks see it
            if checks.monitor.metric.startswith("val_"):
                kept = list(run.kept)
                if self._monitor_check(metrics, self.epoch):
                    self.request_stop()
                saves = saves or (checks.folder is not None and run.kept != kept)  # last.pth is the newest
        if saves:
            self.save_checkpoint(checks.folder / "last.pth", _sampler=checks.sampler)  # type: ignore[operator]  # saves needs a folder

    def _remove_checkpoint(self, path: Path) -> None:
        """Delete a checkpoint that left the top k (each rank its own part)."""
        target = path if self.is_main_process else checkpoint.rank_path(path, self.distributed.rank)  # type: ignore[union-attr]  # a rank > 0
        target.unlink(missing_ok=True)

    def _resume(self, path: str | os.PathLike[str], run: RunState, generator: Any) -> RunState:
        """Continue the run ``path`` holds: every check first, so that a refused
        checkpoint leaves the trainer exactly as it was, then the restore."""
        state = checkpoint.check_format(safe_load(path, map_location=self.device), path)
        saved = checkpoint.validate(self, state, path, generator)
        position = state.get("position")  # a mid-epoch stop (interrupted.pth): how far the epoch got
        part = None
        if not self.is_main_process:  # this rank's own replay buffer, RNG states and epoch position
            part_path = checkpoint.rank_path(path, self.distributed.rank)  # type: ignore[union-attr]  # a rank > 0
            part = checkpoint.check_rank_part(self, safe_load(part_path, map_location=self.device), part_path,
                                              generator)
            position = part.get("position")
        if saved is None:
            raise ValueError(f"{str(path)!r} was saved outside train(); it holds no run to continue")
        if saved.steps_per_epoch != run.steps_per_epoch:
            raise ValueError(
                f"{str(path)!r} comes from a run with {saved.steps_per_epoch} optimizer steps per epoch; this "
                f"loader gives {run.steps_per_epoch}: resume with the same data and gradient_accumulation_steps"
            )
        checkpoint.apply(self, state, generator)
        if part is not None:
            self.replay.load_state_dict(part["replay_state"])
            rng_state.restore(part["rng"], generator)
        saved.num_epochs, saved.max_steps = run.num_epochs, run.max_steps  # counted from the run's start
        if position is not None:
            self._resume_position = EpochPosition.from_state(position, tuple(STEP_METRICS), self.device)
        return saved

    def _continue_in_run_folder(self, run: RunState, held: ExitStack) -> None:
        """A resumed run goes on writing where it wrote: the ``version_N`` folder of this
        trainer's ``log_dir`` that train() chose for it (locked like the rest)."""
        saved = Path(run.log_dir) if run.log_dir is not None else None
        if saved is None or self.log_dir is None or not self.is_main_process or saved == self.log_dir:
            run.log_dir = None if self.log_dir is None else str(self.log_dir)
            return
        if saved.parent == self.log_dir and run_folder.is_version_folder(saved) and saved.is_dir():
            held.enter_context(run_lock.locked([saved]))
            given, self.log_dir = self.log_dir, saved
            try:
                self.loggers = self._build_loggers()
            except BaseException:
                self.log_dir = given
                raise
            self._run_folder_chosen = True
        run.log_dir = str(self.log_dir)

    def _stop_if_signalled(self, *, at_log: bool) -> None:
        """Raise :class:`TrainingInterrupted` at a step boundary once SIGINT / SIGTERM
        arrived. One process reads a Python flag (no device sync); the ranks of a
        distributed run agree on it (MAX all-reduce) only where ``at_log``, so all stop
        at the same step."""
        signum = self._stop.signum
        if self.distributed is not None:
            if not at_log:
                return
            flag = torch.tensor([float(signum or 0)], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            signum = int(flag.item()) or None
        if signum is not None:
            raise TrainingInterrupted(signum)

    def _epoch_position(self, loader: Iterable[Any], epoch: int) -> tuple[EpochPosition, Any]:
        """Where epoch ``epoch`` starts, and the loader's iterator: at its first batch,
        or, resuming a mid-epoch checkpoint, past the batches trained before the stop
        (the epoch's shuffle is redrawn from the generator states it started with)."""
        generator = rng_state.sampler_generator(loader)
        resumed, self._resume_position = self._resume_position, None
        if resumed is None or resumed.epoch != epoch:
            names = tuple(STEP_METRICS)
            position = EpochPosition(epoch, 0, generator.get_state() if generator is not None else None,
                                     torch.get_rng_state(), MetricSums(names, self.device),
                                     MetricSums(names, self.device), self._nonfinite, self._nonfinite[0].clone())
            return position, iter(loader)
        now = rng_state.capture()  # the RNGs at the stop, as the checkpoint restored them
        torch.set_rng_state(resumed.torch_at_start)
        if generator is not None and resumed.sampler_at_start is not None:
            generator.set_state(resumed.sampler_at_start)
        iterator = iter(loader)
        for _ in range(resumed.batches_done):
            next(iterator)
        rng_state.restore(now)  # the sampler generator stays where the skipped batches left it
        self._nonfinite = resumed.nonfinite
        return resumed, iterator

    def _position_state(self) -> dict[str, Any] | None:
        """The running epoch's position for a checkpoint (``None`` between epochs)."""
        if self._position is None:
            return None
        self._position.nonfinite = self._nonfinite
        return self._position.state_dict()

    @_naming_failing_plugins
    def train_epoch(self, train_dataloader: Iterable[Any], epoch: int = 0) -> dict[str, float]:
        """One pass over ``train_dataloader``; returns the epoch's mean ``loss``,
        ``quantum_loss``, ``uncertainty``, ``entanglement_strength``,
        ``superposition_coherence``, ``collapse_probability`` and the final ``lr``."""
        optimizer = self.require_optimizer("train_epoch()")
        steps = self._steps_per_epoch(train_dataloader, "train_dataloader")
        run = self._run if self._run is not None else RunState(self.epoch, 1, steps)
        accumulate = self.config.gradient_accumulation_steps
        batches = len(train_dataloader)  # type: ignore[arg-type]
        log_every = self.config.log_every_n_steps
        self.model.train()
        position, iterator = self._epoch_position(train_dataloader, epoch)
        self._position = position
        epoch_sums, window, skipped_before = position.epoch_sums, position.window, position.skipped_before
        collapse_sum, batches_seen = position.collapse_sum, position.batches_seen
        window_weight: Tensor | int = 0
        progress = EpochProgress(self.progress_bar and self.is_main_process, batches, f"epoch {epoch}")
        for _ in range(position.batches_done):
            progress.update()
        try:
            for index, batch in enumerate(iterator, start=position.batches_done):
                starts_window = index % accumulate == 0
                ends_window = (index + 1) % accumulate == 0 or index + 1 == batches
                if starts_window:
                    self.apply_schedule(run.run_step, run.total_steps)
                collapse_sum += self.collapse_probability
                batches_seen += 1
                outputs, labels, terms = self.forward_step(batch)
                if accumulate > 1:
                    weight = token_count(labels, outputs.logits)
                    self.scaler.scale(terms.total * weight).backward()
                    window_weight = window_weight + weight
                else:
                    self.scaler.scale(terms.total).backward()
                window.add(step_metrics(terms, outputs))
                if ends_window:
                    self._optimizer_step(optimizer, window_weight if accumulate > 1 else None)
                    run.run_step += 1
                    window_weight = 0
                    position.batches_done, position.collapse_sum, position.batches_seen = (
                        index + 1, collapse_sum, batches_seen)
                    ends_run = run.run_step >= run.total_steps
                    logs = self.global_step % log_every == 0 or ends_run  # the run's last step is always logged
                    if logs:
                        self._log(window.reduced(self._across_ranks).means(), progress, optimizer)
                        window.merge_into(epoch_sums)
                    self._step_checks(run, math.ceil((index + 1) / accumulate))
                    self._stop_if_signalled(at_log=logs)
                    if ends_run and index + 1 < batches:  # max_steps ends the run mid-epoch
                        progress.update()
                        break
                progress.update()
                if self._stop_requested:
                    break
        finally:
            progress.close()
        metrics = read({**epoch_sums.combined(window).reduced(self._across_ranks).means(),
                        "nonfinite_steps": self._nonfinite[0] - skipped_before,
                        "nonfinite_in_a_row": self._nonfinite[1]})
        self._check_divergence(metrics.pop("nonfinite_in_a_row"))
        metrics["collapse_probability"] = collapse_sum / max(batches_seen, 1)
        metrics["lr"] = float(optimizer.param_groups[0]["lr"])
        metrics["nonfinite_steps"] = metrics.pop("nonfinite_steps")  # last, as the history records it
        return metrics

    @_naming_failing_plugins
    def validate(self, val_dataloader: Iterable[Any]) -> dict[str, float]:
        """Evaluate without gradients: ``loss``, ``accuracy``, ``nll``, ``brier``, ``ece``,
        ``uncertainty`` (from ``uncertainty_samples`` collapse samples),
        ``predictive_entropy``, ``mutual_information``, ``sense_entropy``,
        ``entanglement_strength``, ``superposition_coherence`` and, for one label per
        example, ``uncertainty_auroc`` / ``predictive_entropy_auroc`` (how well each
        detects the model's errors). The collapse samples come from a generator of their
        own, reseeded by :meth:`begin_evaluation`, so validation is repeatable and leaves the
        training random stream alone."""
        metrics = self._evaluate(val_dataloader, "val_dataloader", f"epoch {self.epoch} validation")
        self._lifecycle.call("qembed_on_validation_end", trainer=self, epoch=self.epoch, metrics=metrics)
        return metrics

    @_naming_failing_plugins
    def test(self, test_dataloader: Iterable[Any]) -> dict[str, float]:
        """The metrics :meth:`validate` computes (same names, same loop) on a test loader,
        sent to the trainer's loggers under ``test/`` at the global step (not to
        ``qembed_on_validation_end``: a test result never steers training)."""
        metrics = self._evaluate(test_dataloader, "test_dataloader", "test")
        if self.loggers and self.is_main_process:
            if self.global_step == 0 and not self._run_folder_chosen:
                self._choose_run_folder()  # an untrained trainer's test never writes into an earlier run's files
            with run_lock.locked([self.log_dir]):
                logger_relay.log_test(self, metrics)
        return metrics

    def _evaluate(self, loader: Iterable[Any], name: str, description: str) -> dict[str, float]:
        """The evaluation loop of :meth:`validate` and :meth:`test`: ``loader``'s metrics
        (``name`` names the loader in errors, ``description`` labels the progress bar)."""
        loader = self._shard(loader, training=False)
        self._steps_per_epoch(loader, name)
        was_training = self.model.training
        self.model.eval()
        totals = ValidationTotals(self.device)
        if self.distributed is not None:
            totals.detection = None  # the AUROCs need every rank's examples; single process only
        self.begin_evaluation()
        progress = EpochProgress(self.progress_bar and self.is_main_process, len(loader),  # type: ignore[arg-type]  # checked sized above
                                 description, summary=False)
        try:  # fork: a loader's iterator draws its seed from the global generator
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                for batch in loader:
                    outputs, labels, terms = self.forward_step(batch, training=False)
                    totals.add(outputs, labels, terms.total)
                    progress.update()
        finally:
            progress.close()
            self.model.train(was_training)
        totals.reduce(self._across_ranks)
        return totals.result()

    @_naming_failing_plugins
    def predict(self, dataloader: Iterable[Any]) -> Predictions:
        """What the model predicts for every example of ``dataloader``, unpadded, on the
        CPU (:func:`qembed.inference.predict_batches` on the trainer's device, under its
        mixed precision). Batches need ``input_ids`` (and ``attention_mask`` when padded);
        ``labels`` are optional and kept. Every process predicts the whole loader. As
        :meth:`test`, it leaves the global random stream alone."""
        from qembed.inference.predictions import predict_batches  # the layer above, used here only

        with torch.random.fork_rng(devices=[]):  # a loader's iterator draws its seed from the global generator
            return predict_batches(self.model, dataloader, device=self.device, autocast=self.precision.autocast)

    def begin_evaluation(self) -> None:
        """Reseed the generator evaluation's collapse samples come from, so every evaluation
        draws the same samples (``validate`` calls it; loops that evaluate with
        :meth:`forward_step` themselves call it first)."""
        device = next((p.device for p in self.model.parameters()), self.device)  # Lightning may have moved it
        if self._evaluation_generator.device != device:
            self._evaluation_generator = torch.Generator(device=device)
        self._evaluation_generator.manual_seed(EVALUATION_SEED)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Forward and loss for one batch, with the current collapse probability;
        returns the loss tensor (for a Lightning ``training_step`` to return)."""
        return self.forward_step(batch)[2].total

    def apply_schedule(self, step: int, total_steps: int) -> float:
        """Set the collapse probability the superposition schedule gives for optimizer
        step ``step`` of ``total_steps`` on every collapse-aware module; returns it
        (for loops that run the steps themselves, e.g. Lightning or HF's Trainer). A value
        that is not a finite number in [0, 1] raises, naming the schedule, before any module
        is changed."""
        self._set_collapse_probability(checked_probability(self.schedule, step, total_steps, self._schedule_name))
        return self.collapse_probability

    def request_stop(self) -> None:
        """Ask the trainer to stop after the current step (for plugins: never raise)."""
        self._stop_requested = True

    def save_model(self, path: str | os.PathLike[str]) -> Path | None:
        """Write the model's weights atomically; ``qembed_on_checkpoint`` follows. Only
        the main process writes (returns ``None`` elsewhere)."""
        if not self.is_main_process:
            return None
        target = atomic_save(
            {"format": "qembed-model", "version": 1, "model_state": self.model.state_dict(),
             "epoch": self.epoch, "global_step": self.global_step},
            path,
        )
        self._lifecycle.call("qembed_on_checkpoint", trainer=self, path=str(target))
        return target

    def load_model(self, path: str | os.PathLike[str]) -> None:
        """Load weights saved by :meth:`save_model` or :meth:`save_checkpoint`, or a
        bare ``state_dict``."""
        load_state_dict_checked(self.model, load_model_state(path, self.device), repr(str(path)))
        self._applied_probability = None  # the file brought its own collapse probability

    # --- the step -----------------------------------------------------------------

    def forward_step(self, batch: Any, *, training: bool = True) -> tuple[Any, Tensor, LossTerms]:
        """Forward and loss for one batch: ``(outputs, labels, loss terms)``, no backward.
        In training, replayed examples join the batch, a loss's collapse samples are
        drawn and the replay buffer sees the batch; in evaluation none of that happens.
        (For loops that run the steps themselves, such as Lightning's.)"""
        fresh = batch
        if training and isinstance(batch, dict):
            batch = self._mix_replay(batch)
        batch = to_device(batch, self.device)
        args, kwargs, labels = self._model_call.split(batch)
        if self._marks_dynamic:  # no recompile for the last smaller batch or another length
            mark_dynamic([*args, *kwargs.values()])
        samples = self._loss_call.mc_samples if training and self._loss_call is not None else 0
        with self.precision.autocast():
            if samples > 1 and self.config.quantum_parallel:
                outputs = self._parallel_samples(samples, args, kwargs, labels)
            else:
                outputs = as_output(self._network(*args, **kwargs))
                if samples > 1:
                    extra = [as_output(self._network(*args, **kwargs)).logits for _ in range(samples - 1)]
                    outputs = with_sample_logits(outputs, torch.stack([outputs.logits, *extra]))
        terms = self._loss(outputs, labels)
        if not training and self.config.uncertainty_samples > 1:  # the loss stays the deterministic forward's
            outputs = self._with_sampled_uncertainty(outputs, args, kwargs, labels)
        if training:
            self.last_outputs = outputs
            if isinstance(fresh, dict):
                self.replay.add(fresh, _first_examples(outputs, batch_size(fresh)))
            observe = getattr(self.optimizer, "observe_uncertainty", None)
            uncertainty = field(outputs, "uncertainty")
            if observe is not None and uncertainty is not None:
                observe(uncertainty.detach().float().mean())
        return outputs, labels, terms

    def _synced_entanglement(self, outputs: Any) -> Any:
        """``entanglement_sync``: the loss sees the mean pair entanglement over every
        real pair of every rank's batch (a differentiable all-reduce), as one process
        holding the global batch would; per-example values are replaced by it."""
        from torch.distributed.nn.functional import all_reduce

        pairs, mask = field(outputs, "pair_entanglement"), field(outputs, "pair_mask")
        if pairs is None or mask is None:
            return outputs
        attention = field(outputs, "attention_mask")
        summary = None if attention is None else pair_summary(pairs, mask, attention.shape[-1])
        if summary is None:
            weighted, weights = pairs.float() * mask, mask.float()
        else:  # a memory-efficient layer's per-token means: each weighted by its number of pairs
            means, _, counts = summary
            weighted, weights = means.float() * counts, counts.float()
        total = all_reduce(weighted.sum())
        count = self.distributed.sum(weights.sum())  # type: ignore[union-attr]  # entanglement_sync needs distributed_training
        synced = (total / count.clamp_min(1)).expand(pairs.shape[0])
        return replace_fields(outputs, entanglement=synced, pair_entanglement=None, pair_mask=None)

    def _with_sampled_uncertainty(self, outputs: Any, args: tuple[Any, ...], kwargs: dict[str, Any], labels: Tensor) -> Any:
        """``outputs`` with ``uncertainty`` and ``mutual_information`` measured from
        ``uncertainty_samples`` collapse samples (Born rule, every token measured); as
        they were when the model has nothing to sample (one sense, no collapse, a
        classical model)."""
        samples = self.config.uncertainty_samples
        scored = labels != IGNORE_INDEX if outputs.logits.dim() > 2 else None
        kwargs = {key: value for key, value in kwargs.items() if key != "labels"}  # no loss per sample
        with collapse_sampling(self.model, self._evaluation_generator) as sampling_layers, self.precision.autocast():
            if not sampling_layers:
                return outputs
            network = self._sampling_network
            if self.config.quantum_parallel:
                logits = self._parallel_samples(samples, args, kwargs, labels, network).sample_logits
            else:  # one sample at a time: S copies of a masked LM's logits would not fit
                logits = (as_output(network(*args, **kwargs)).logits for _ in range(samples))
            estimate = sampled_uncertainty(logits, scored)
        return replace_fields(outputs, uncertainty=estimate.uncertainty,
                              mutual_information=estimate.mutual_information)

    def _parallel_samples(self, samples: int, args: tuple[Any, ...], kwargs: dict[str, Any], labels: Tensor,
                          network: Callable[..., Any] | None = None) -> Any:
        """``quantum_parallel``: S collapse samples (a loss's, or evaluation's) as one
        forward of ``network`` (the trainer's by default) on the batch repeated S times (each
        copy collapses independently); the output is the first copy's, with
        ``sample_logits`` ``[S, ...]`` from all of them."""
        network = self._network if network is None else network
        size = labels.shape[0]

        def repeat(value: Any) -> Any:
            return value.repeat(samples, *([1] * (value.dim() - 1))) if isinstance(value, Tensor) else value

        outputs = as_output(network(*map(repeat, args), **{k: repeat(v) for k, v in kwargs.items()}))
        return with_sample_logits(first_examples(outputs, size, samples * size),
                                  outputs.logits.unflatten(0, (samples, size)))

    def _loss(self, outputs: Any, labels: Tensor) -> LossTerms:
        if not self.config.entanglement_training:
            seen = without_entanglement(outputs)
        elif self.config.entanglement_sync and torch.is_grad_enabled():
            seen = self._synced_entanglement(outputs)
        else:
            seen = outputs
        if self._loss_call is None:
            loss = field(outputs, "loss")
            if loss is None:
                raise ValueError("loss_fn is None and the model returned no 'loss'; pass a loss_fn or labels the "
                                 "model can use")
            terms = LossTerms(loss, loss, torch.zeros((), device=loss.device))
        else:
            terms = self._loss_call(seen, labels)
        return with_uncertainty_penalty(terms, outputs, self.config.uncertainty_regularization)

    def _optimizer_step(self, optimizer: torch.optim.Optimizer, window_weight: Tensor | int | None) -> None:
        if window_weight is not None:  # mean over the window's targets, as one big batch would
            gradients = [p.grad for p in self.model.parameters() if p.grad is not None]
            torch._foreach_div_(gradients, torch.as_tensor(window_weight, device=self.device).clamp_min(1).float())
        self.scaler.unscale_(optimizer)
        self._grad_norms = self.clipping(optimizer.param_groups)
        if self.scaler.is_enabled():
            self._count_nonfinite()
        self.scaler.step(optimizer)  # skipped when a gradient is not finite
        # fp16: dynamic loss scaling; otherwise the scaler only guards, and its scale stays exactly 1.0
        # (a skipped step must not shrink the gradients of the good ones that follow)
        self.scaler.update() if self.precision.needs_grad_scaler else self.scaler.update(1.0)
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        self.global_step += 1

    def _count_nonfinite(self) -> None:
        """Count a step whose gradients are not finite (the scaler skips it), on the device."""
        norm = self._grad_norms.get("grad_norm")
        if norm is None:
            gradients = [p.grad for p in self.model.parameters() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(gradients) if gradients else torch.zeros((), device=self.device)
        bad = (~torch.isfinite(norm)).float()
        total, longest, current = self._nonfinite.unbind()
        current = (current + 1) * bad
        self._nonfinite = torch.stack([total + bad, torch.maximum(longest, current), current])

    def _check_divergence(self, skipped_in_a_row: float) -> None:
        limit = self.config.max_nonfinite_steps
        if limit is not None and skipped_in_a_row >= limit:
            where = f"last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else "no checkpoint written"
            raise TrainingDivergedError(
                f"training diverged: {int(skipped_in_a_row)} optimizer steps in a row up to step {self.global_step} "
                f"had a non-finite loss or gradient and were skipped (max_nonfinite_steps={limit}); {where}"
            )

    def _set_collapse_probability(self, probability: float) -> None:
        if probability != self._applied_probability:  # a constant schedule writes once
            for module in self._collapse_modules:
                module.set_collapse_probability(probability)
            self._applied_probability = probability
        self.collapse_probability = probability

    def _log(self, window_means: Mapping[str, Tensor], progress: EpochProgress,
             optimizer: torch.optim.Optimizer) -> None:
        metrics = read({**window_means, "nonfinite_steps": self._nonfinite[0],
                        "nonfinite_in_a_row": self._nonfinite[1], **self._grad_norms})
        self._nonfinite[1] = 0  # the longest run is per read
        self._check_divergence(metrics.pop("nonfinite_in_a_row"))
        metrics["collapse_probability"] = self.collapse_probability
        metrics["lr"] = float(optimizer.param_groups[0]["lr"])
        window = self.config.log_every_n_steps
        progress.show({f"loss({window} step{'s' if window != 1 else ''})": metrics["loss"],
                       "p_c": self.collapse_probability})
        self._lifecycle.call("qembed_on_log", trainer=self, step=self.global_step, metrics=metrics)

    # --- replay -----------------------------------------------------------------------

    def _mix_replay(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The loader's batch followed by replayed examples (CPU work, before transfer)."""
        size = self.replay.replay_size(batch_size(batch))
        replayed = self.replay.sample(size) if size else None
        return batch if replayed is None else concat_batches(batch, replayed)

    # --- helpers ----------------------------------------------------------------------

    def check_loaders(self, train_dataloader: Iterable[Any], val_dataloader: Iterable[Any] | None = None) -> int:
        """The optimizer steps one epoch of ``train_dataloader`` takes; raises the
        ``ValueError`` :meth:`train` would raise for these loaders (not sized, or empty)
        before anything runs (``qembed train --dry-run`` calls it)."""
        return self._checked_loaders(train_dataloader, val_dataloader)[2]

    def _checked_loaders(self, train: Iterable[Any], val: Iterable[Any] | None) -> tuple[Any, Any, int]:
        """This rank's parts of the loaders, and the optimizer steps of one epoch."""
        train, val = self._shard(train, training=True), self._shard(val, training=False)
        steps = self._steps_per_epoch(train, "train_dataloader")
        if val is not None:
            self._steps_per_epoch(val, "val_dataloader")
        return train, val, steps

    def _shard(self, loader: Any, *, training: bool) -> Any:
        """Under ``distributed_training``, this rank's part of ``loader`` (built once)."""
        if self.distributed is None or loader is None or isinstance(getattr(loader, "sampler", None),
                                                                     (DistributedSampler, ShardSampler)):
            return loader
        if id(loader) not in self._sharded:
            self._sharded[id(loader)] = (self.distributed.training_loader(loader, seed=self.epoch)
                                         if training else self.distributed.evaluation_loader(loader))
        return self._sharded[id(loader)]

    def _across_ranks(self, sums: Tensor) -> Tensor:
        """Per-rank sums added up over every rank (unchanged in a single process)."""
        return self.distributed.sum(sums) if self.distributed is not None else sums

    def _steps_per_epoch(self, loader: Iterable[Any], name: str) -> int:
        try:
            batches = len(loader)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(f"{name} must be a sized iterable of batches (a DataLoader or a list), "
                             f"got {type(loader).__name__}") from None
        if batches == 0:
            raise ValueError(f"{name} is empty: it yields no batches")
        return math.ceil(batches / self.config.gradient_accumulation_steps)

    def _write_history(self) -> None:
        """``history.json`` through the atomic, fsynced writer checkpoints use."""
        if self.log_dir is None or not self.is_main_process:
            return
        atomic_write_bytes(self.log_dir / "history.json", json.dumps(self.training_history, indent=1).encode())


def _component_name(spec: Any) -> str:
    """How an error names a component given as a name, a ``{"name": ...}`` spec or an object."""
    if isinstance(spec, str):
        return repr(spec)
    if isinstance(spec, Mapping):
        return repr(spec.get("name"))
    return getattr(spec, "__name__", None) or type(spec).__name__


def checked_probability(schedule: Schedule, step: int, total_steps: int, name: str) -> float:
    """``schedule(step, total_steps)`` as a float, checked finite and in [0, 1] on the host
    (a schedule returns a Python number: no device sync); ``name`` names it in the error."""
    value = schedule(step, total_steps)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"superposition schedule {name} returned {value!r:.60} at step {step} of {total_steps}; "
                         "a schedule must return a number in [0, 1]")
    return float(value)


@dataclasses.dataclass
class FreshExamples:
    """The per-example fields replay strategies read, for the loader's examples only
    (replayed ones follow them in the batch). A dataclass, which ``torch.compile``
    traces (a ``SimpleNamespace`` breaks the graph)."""

    uncertainty: Tensor | None


def _first_examples(outputs: Any, count: int) -> FreshExamples:
    uncertainty = field(outputs, "uncertainty")
    return FreshExamples(uncertainty[:count] if uncertainty is not None else None)
