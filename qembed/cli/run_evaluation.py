"""Scoring a saved model (``qembed evaluate``): on its run's test or validation split,
rebuilt from the run's ``config.yaml``, or on a labelled file read as its training data was."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import attrs
from torch.utils.data import DataLoader

from qembed.cli.config_errors import blame
from qembed.cli.run_config import load_run_config
from qembed.cli.run_schema import MODELS, RunConfig
from qembed.cli.run_setup import build_data
from qembed.data import pad_collate
from qembed.inference import Predictor, load
from qembed.training import QuantumTrainer

CONFIG_FILE = "config.yaml"


def evaluate_run(run_dir: str | os.PathLike[str], *, data: str | None = None, split: str = "test",
                 batch_size: int = 32, device: str | None = None) -> tuple[dict[str, float], str]:
    """``(metrics, what was scored)`` of the model saved in ``run_dir``: the metrics
    validation reports, with the run's loss and ``[quantum]`` settings when it has a config."""
    run_dir = Path(run_dir)
    predictor = load(run_dir, device=device)
    config = load_run_config(run_dir / CONFIG_FILE) if (run_dir / CONFIG_FILE).is_file() else None
    if data is not None:
        dataset = predictor.dataset(data)
        loader: Any = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                 collate_fn=partial(pad_collate, pad_id=predictor.tokenizer.pad_id))  # dataset() needs one
        what = f"{data} ({len(dataset)} examples)"
    elif config is None:
        raise ValueError(f"{str(run_dir)!r} has no {CONFIG_FILE} to rebuild its data from: give --data FILE")
    else:
        loader, what = _run_split(config, predictor, split, batch_size)
    loss, quantum = (config.loss, attrs.evolve(config.quantum, distributed_training=False)) if config else (None, None)
    trainer = QuantumTrainer(predictor.model, None, loss, quantum, device=predictor.device, progress_bar=False,
                             epoch_table=False)
    return trainer.test(loader), what


def _run_split(config: RunConfig, predictor: Predictor, split: str, batch_size: int) -> tuple[Any, str]:
    """The run's ``split`` loader, its data rebuilt with the saved tokenizer (same seed: same split)."""
    if config.data.module is not None:
        raise ValueError(f"{config.source}: the run's data came from [data] module {config.data.module!r}, which "
                         "gives no test split; give --data FILE")
    config = attrs.evolve(config, data=attrs.evolve(
        config.data, loader_options={**config.data.loader_options, "batch_size": batch_size}))
    with blame(config.source, "data"):
        data = build_data(config, tokenizer=predictor.tokenizer)
    loader = data.test if split == "test" else data.val
    if loader is None:
        why = " (a masked LM has none)" if split == "test" and MODELS[config.model.name] != "loaders" else ""
        raise ValueError(f"{config.source}: the run's data has no {'test' if split == 'test' else 'validation'} "
                         f"split to score{why}; give --data FILE")
    return loader, f"the run's {split} split ({len(loader.dataset)} examples)"
