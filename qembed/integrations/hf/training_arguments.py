"""``QuantumTrainer.from_training_arguments``: a trainer set up from Hugging Face
``TrainingArguments``.

Every field acts, raises, or warns: the fields in :data:`MAPPED` are honoured (the
loaders, optimizer, LR schedule, clipping, precision, logging, checkpoints and seed they
describe are built); any other field changed from its default has no ``QuantumTrainer``
meaning and raises an :class:`UnusedTrainingArgumentWarning` naming it. A field that
contradicts an explicit ``quantum_training_config`` key is an error naming both.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset
from transformers import TrainingArguments, default_data_collator, get_scheduler

from qembed.training.config import ConfigError, QuantumTrainingConfig
from qembed.training.monitor import Monitor, produced_metrics
from qembed.training.run_defaults import RunDefaults

if TYPE_CHECKING:
    from qembed.training.trainer import QuantumTrainer

#: The ``TrainingArguments`` fields qembed honours, and what each becomes.
MAPPED: dict[str, str] = {
    "output_dir": "checkpoint_dir: last.pth every epoch, the best as epoch=E-step=S-<monitor>=V.pth",
    "num_train_epochs": "num_epochs (whole epochs)",
    "per_device_train_batch_size": "the training DataLoader's batch size (shuffled)",
    "per_device_eval_batch_size": "the validation DataLoader's batch size",
    "dataloader_drop_last": "both DataLoaders' drop_last",
    "dataloader_num_workers": "both DataLoaders' num_workers",
    "dataloader_pin_memory": "both DataLoaders' pin_memory (on CUDA)",
    "learning_rate": "the optimizer's lr",
    "weight_decay": "the optimizer's weight_decay",
    "adam_beta1": "the optimizer's betas[0]",
    "adam_beta2": "the optimizer's betas[1]",
    "adam_epsilon": "the optimizer's eps",
    "lr_scheduler_type": "lr_scheduler: transformers.get_scheduler(type, ...)",
    "lr_scheduler_kwargs": "lr_scheduler's extra options",
    "warmup_steps": "lr_scheduler's warmup steps",
    "warmup_ratio": "lr_scheduler's warmup steps, as a share of all steps",
    "max_grad_norm": "clipping: global_norm of every gradient at max_norm, as HF clips (0 or None: no clipping)",
    "fp16": "mixed_precision='fp16'",
    "bf16": "mixed_precision='bf16'",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "gradient_checkpointing": "gradient_checkpointing",
    "seed": "seed (and the training loader's shuffling, without data_seed)",
    "data_seed": "the training loader's shuffling",
    "logging_dir": "log_dir: TensorBoard events and history.json",
    "report_to": "TensorBoard when it lists 'tensorboard'; other reporters warn",
    "logging_strategy": "'steps': every logging_steps; 'epoch': once per epoch",
    "logging_steps": "log_every_n_steps (a ratio < 1: of all steps)",
    "save_strategy": "'no': no checkpoints; 'steps': also every save_steps; otherwise once per epoch",
    "save_steps": "checkpoint_every_n_steps with save_strategy='steps' (a ratio < 1: of all steps)",
    "save_total_limit": "1 without load_best_model_at_end: last.pth only",
    "load_best_model_at_end": "restore_best_weights (monitoring metric_for_best_model)",
    "metric_for_best_model": "monitor: 'X' or 'eval_X' is val_X (None: val_loss)",
    "greater_is_better": "mode: 'max' when True, else 'min'",
    "eval_strategy": "validation once per epoch when eval_dataset is given; 'steps': also every eval_steps",
    "eval_steps": "val_check_interval with eval_strategy='steps' (default logging_steps; a ratio < 1: of all steps)",
    "disable_tqdm": "progress_bar=False",
    "use_cpu": "device='cpu'",
    "no_cuda": "device='cpu'",
    "max_steps": "max_steps (> 0: the run's length, num_train_epochs then unused, as in HF)",
    "torch_compile": "compile=True",
    "torch_compile_backend": "compile={'backend': ...}",
    "torch_compile_mode": "compile={'mode': ...}",
}

#: Fields not to warn about: set by the environment (``local_rank``, ``_n_gpu``), or flags
#: for users' own scripts that HF's ``Trainer`` ignores too (``do_eval`` is also derived
#: from ``eval_strategy``).
_NOT_TRAINING_SETTINGS = frozenset({"local_rank", "_n_gpu", "do_train", "do_eval", "do_predict"})


class UnusedTrainingArgumentWarning(UserWarning):
    """A ``TrainingArguments`` field was set that ``QuantumTrainer`` does not use."""


def trainer_from_training_arguments(
    trainer_class: type[QuantumTrainer],
    args: TrainingArguments,
    model: nn.Module,
    loss_fn: Any = None,
    quantum_training_config: QuantumTrainingConfig | Mapping[str, Any] | None = None,
    *,
    train_dataset: Dataset | None = None,
    eval_dataset: Dataset | None = None,
    data_collator: Callable[[list[Any]], Any] | None = None,
    optimizer: Any = "quantum",
    **trainer_options: Any,
) -> QuantumTrainer:
    """See :meth:`QuantumTrainer.from_training_arguments`."""
    if not isinstance(args, TrainingArguments):
        raise TypeError(f"args must be transformers.TrainingArguments, got {type(args).__name__}")
    if optimizer is None:
        raise ConfigError("optimizer=None: from_training_arguments sets up training; to evaluate or predict only, "
                          "build QuantumTrainer(model, optimizer=None) and call test() or predict()")
    for key in ("device", "log_dir", "seed", "progress_bar", "lr_scheduler"):
        if key in trainer_options:
            raise TypeError(f"{key}= comes from the TrainingArguments here; set it there")
    reference = type(args)(output_dir=args.output_dir)  # the defaults, resolved the same way
    _warn_unused(args, reference)
    collate = data_collator if data_collator is not None else default_data_collator
    train_loader = _loader("train_dataset", train_dataset, args, args.per_device_train_batch_size, collate,
                           shuffle=True)
    eval_loader = (_loader("eval_dataset", eval_dataset, args, args.per_device_eval_batch_size, collate,
                           shuffle=False) if eval_dataset is not None else None)
    if eval_loader is None and args.load_best_model_at_end:
        raise ConfigError("TrainingArguments.load_best_model_at_end=True needs an eval_dataset to pick the best "
                          "epoch by")
    monitor, mode = _monitor(args, validates=eval_loader is not None)
    config = _merged_config(args, reference, quantum_training_config)
    steps_per_epoch = math.ceil(len(train_loader) / config["gradient_accumulation_steps"])
    max_steps = args.max_steps if args.max_steps is not None and args.max_steps > 0 else None
    epochs = _whole_epochs(args) if max_steps is None else math.ceil(max_steps / steps_per_epoch)
    total_steps = epochs * steps_per_epoch if max_steps is None else max_steps
    config.setdefault("log_every_n_steps", _log_every(args, steps_per_epoch, total_steps))
    use_cpu = args.use_cpu or getattr(args, "no_cuda", False)
    if args.torch_compile:
        if "compile" in trainer_options:
            raise TypeError("compile= comes from TrainingArguments.torch_compile here; set it there")
        trainer_options["compile"] = {key: value for key, value in (
            ("backend", args.torch_compile_backend), ("mode", args.torch_compile_mode)) if value is not None}
    trainer = trainer_class(
        model,
        _optimizer(args, reference, optimizer),
        loss_fn,
        config,
        device="cpu" if use_cpu else None,
        log_dir=args.logging_dir if "tensorboard" in _reporters(args) else None,
        seed=args.seed,
        progress_bar=not args.disable_tqdm,
        lr_scheduler=lambda built: get_scheduler(
            args.lr_scheduler_type, built, num_warmup_steps=args.get_warmup_steps(total_steps),
            num_training_steps=total_steps, scheduler_specific_kwargs=dict(args.lr_scheduler_kwargs or {})),
        **trainer_options,
    )
    save = _value(args.save_strategy) != "no"
    steps_eval = _value(args.eval_strategy) == "steps"
    if steps_eval and eval_loader is None:
        raise ConfigError("TrainingArguments.eval_strategy='steps' needs an eval_dataset to validate with")
    trainer.run_defaults = RunDefaults(
        max_steps=max_steps,
        monitor=monitor,
        mode=mode,
        val_check_interval=_steps(args.eval_steps or args.logging_steps, total_steps) if steps_eval else None,
        checkpoint_every_n_steps=(_steps(args.save_steps, total_steps) if _value(args.save_strategy) == "steps"
                                  else None),
        train_dataloader=train_loader,
        val_dataloader=eval_loader,
        num_epochs=epochs,
        checkpoint_dir=args.output_dir if save else None,
        restore_best_weights=args.load_best_model_at_end,
        keep_best_checkpoint=args.save_total_limit != 1 or args.load_best_model_at_end,
    )
    return trainer


def _warn_unused(args: TrainingArguments, reference: TrainingArguments) -> None:
    """Warn, by name, about every field set away from its default that qembed does not use,
    and about mapped fields qembed honours only in part."""
    for field in dataclasses.fields(args):
        name = field.name
        if name in MAPPED or name in _NOT_TRAINING_SETTINGS or not field.init:
            continue
        value = getattr(args, name)
        if value != getattr(reference, name):
            _warn(f"TrainingArguments.{name}={value!r} has no QuantumTrainer equivalent and is not used")
    other_reporters = sorted(set(_reporters(args)) - {"tensorboard"})
    if other_reporters and _reporters(args) != _reporters(reference):
        _warn(f"TrainingArguments.report_to={other_reporters!r} is not used: QuantumTrainer logs to TensorBoard; "
              "a plugin on qembed_on_log can forward the metrics elsewhere")
    if _value(args.logging_strategy) == "no":
        _warn("TrainingArguments.logging_strategy='no' is not used: QuantumTrainer logs once per epoch at least")


def _warn(message: str) -> None:
    # user code -> from_training_arguments -> trainer_from_training_arguments -> _warn_unused -> here
    warnings.warn(message, UnusedTrainingArgumentWarning, stacklevel=5)


def _value(strategy: Any) -> Any:
    """An HF strategy enum's string value (``str()`` of one gives its class name)."""
    return getattr(strategy, "value", strategy)


def _reporters(args: TrainingArguments) -> list[str]:
    report_to = args.report_to
    return [report_to] if isinstance(report_to, str) else list(report_to or [])


def _steps(value: float, total_steps: int) -> int:
    """An HF ``*_steps`` field in optimizer steps: a ratio < 1 is a share of all steps."""
    return max(1, math.ceil(value * total_steps) if value < 1 else int(value))


def _whole_epochs(args: TrainingArguments) -> int:
    epochs = args.num_train_epochs
    if not float(epochs).is_integer() or epochs < 1:
        raise ConfigError(f"TrainingArguments.num_train_epochs={epochs!r}: QuantumTrainer trains whole epochs; "
                          "give an integer >= 1")
    return int(epochs)


def _monitor(args: TrainingArguments, validates: bool) -> tuple[str | None, str]:
    """``metric_for_best_model`` and ``greater_is_better`` as ``train``'s monitor and mode:
    HF's evaluation metric ``X`` or ``eval_X`` is qembed's ``val_X``."""
    metric = args.metric_for_best_model
    if metric is None:
        return None, "min"
    monitor, mode = f"val_{metric.removeprefix('eval_')}", "max" if args.greater_is_better else "min"
    try:
        Monitor.checked(monitor, mode, 0.0, 1, produced_metrics(validates=validates))
    except ValueError as err:
        raise ConfigError(f"TrainingArguments.metric_for_best_model={metric!r}: {err}") from None
    return monitor, mode


def _loader(name: str, dataset: Any, args: TrainingArguments, batch_size: int, collate: Callable[..., Any], *,
            shuffle: bool) -> DataLoader:
    if dataset is None:
        raise ValueError(f"{name} is required: QuantumTrainer.from_training_arguments builds the loaders from it")
    if isinstance(dataset, DataLoader) or not isinstance(dataset, Dataset):
        raise TypeError(f"{name} must be a torch Dataset (the loader is built from the TrainingArguments), "
                        f"got {type(dataset).__name__}")
    if isinstance(dataset, IterableDataset):
        raise TypeError(f"{name} is an IterableDataset; QuantumTrainer needs a sized, map-style Dataset")
    seed = args.data_seed if args.data_seed is not None else args.seed
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        drop_last=args.dataloader_drop_last,
        num_workers=args.dataloader_num_workers,
        pin_memory=args.dataloader_pin_memory and torch.cuda.is_available() and not args.use_cpu,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


def _explicit_keys(config: QuantumTrainingConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    """The keys the user chose: a dict's own keys, a config object's non-default fields."""
    if config is None:
        return {}
    if isinstance(config, QuantumTrainingConfig):
        return {f.name: getattr(config, f.name) for f in attrs.fields(QuantumTrainingConfig)
                if getattr(config, f.name) != f.default}
    QuantumTrainingConfig.from_value(config)  # unknown keys and bad values are named here, first
    return dict(config)


def _merged_config(args: TrainingArguments, reference: TrainingArguments,
                   quantum_training_config: QuantumTrainingConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    """``quantum_training_config`` with what the TrainingArguments say about the same
    things; an explicit key wins over a field left at its default, a contradiction raises."""
    config = _explicit_keys(quantum_training_config)
    from_args = {  # key: (the field(s), their value as the key's value, whether they were changed)
        "gradient_accumulation_steps": ("gradient_accumulation_steps", args.gradient_accumulation_steps,
                                        args.gradient_accumulation_steps != reference.gradient_accumulation_steps),
        "gradient_checkpointing": ("gradient_checkpointing", args.gradient_checkpointing,
                                   args.gradient_checkpointing != reference.gradient_checkpointing),
        "mixed_precision": ("fp16/bf16", "bf16" if args.bf16 else "fp16" if args.fp16 else False,
                            args.fp16 or args.bf16),
    }
    for key, (field, value, changed) in from_args.items():
        _take(config, key, field, value, changed, where="quantum_training_config")
    clipping_keys = sorted({"clipping", "quantum_gradient_clipping", "max_quantum_grad_norm", "separate_clipping",
                            "max_grad_norm"} & set(config))
    if clipping_keys:
        if args.max_grad_norm != reference.max_grad_norm:
            raise ConfigError(f"TrainingArguments.max_grad_norm={args.max_grad_norm!r} and quantum_training_config"
                              f"{clipping_keys} both set gradient clipping; set it in one place")
    elif args.max_grad_norm:
        config.update(clipping={"name": "global_norm", "max_norm": float(args.max_grad_norm)})
    if "log_every_n_steps" in config and args.logging_steps != reference.logging_steps:
        raise ConfigError(f"TrainingArguments.logging_steps={args.logging_steps!r} and quantum_training_config"
                          "['log_every_n_steps'] both set the logging interval; set it in one place")
    return config


def _log_every(args: TrainingArguments, steps_per_epoch: int, total_steps: int) -> int:
    if _value(args.logging_strategy) in ("epoch", "no"):
        return steps_per_epoch
    return _steps(args.logging_steps, total_steps)


def _optimizer(args: TrainingArguments, reference: TrainingArguments, optimizer: Any) -> Any:
    """The optimizer spec with the arguments' lr, weight decay, betas and eps; a spec's
    own option wins over a field at its default, a contradiction raises."""
    if isinstance(optimizer, torch.optim.Optimizer):
        changed = [name for name in ("learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon")
                   if getattr(args, name) != getattr(reference, name)]
        if changed:
            raise ConfigError(f"optimizer is a built {type(optimizer).__name__}, so TrainingArguments "
                              f"{', '.join(changed)} cannot apply; pass a name or spec instead")
        return optimizer
    spec = dict(optimizer) if isinstance(optimizer, Mapping) else {"name": optimizer}
    betas, default_betas = (args.adam_beta1, args.adam_beta2), (reference.adam_beta1, reference.adam_beta2)
    _take(spec, "lr", "learning_rate", args.learning_rate, args.learning_rate != reference.learning_rate,
          where="the optimizer spec")
    _take(spec, "weight_decay", "weight_decay", args.weight_decay, args.weight_decay != reference.weight_decay,
          where="the optimizer spec")
    # betas and eps only when set: not every optimizer (e.g. SGD) takes them
    _take(spec, "betas", "adam_beta1/adam_beta2", betas, betas != default_betas, where="the optimizer spec",
          always=False)
    _take(spec, "eps", "adam_epsilon", args.adam_epsilon, args.adam_epsilon != reference.adam_epsilon,
          where="the optimizer spec", always=False)
    return spec


def _take(target: dict[str, Any], key: str, field: str, value: Any, changed: bool, *, where: str,
          always: bool = True) -> None:
    """Put a field's value under ``key`` unless the user gave the key (their value wins
    over a field left at its default; two different explicit values are an error)."""
    if key not in target:
        if always or changed:
            target[key] = value
    elif changed and target[key] != value:
        raise ConfigError(f"TrainingArguments.{field}={value!r} but {where}[{key!r}] is {target[key]!r}; "
                          "set it in one place")
