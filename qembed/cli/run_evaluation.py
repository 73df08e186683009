"""Scoring a saved model (``qembed evaluate``): on its run's test or validation split,
rebuilt from the run's ``config.yaml``, or on a labelled file read as its training data was."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import torch
from torch.utils.data import DataLoader

from qembed.cli.config_errors import blame
from qembed.cli.run_config import load_run_config
from qembed.cli.run_schema import MODELS, RunConfig
from qembed.cli.run_setup import build_data
from qembed.data import MLMCollator, pad_collate
from qembed.inference import Predictor, load
from qembed.models import QuantumMaskedLM
from qembed.training import QuantumTrainer

CONFIG_FILE = "config.yaml"
#: ``--split`` names and the split of a saved ``datasets`` folder each reads
SPLITS = {"test": "test", "val": "validation"}
DATASET_DICT_FILE = "dataset_dict.json"  # what datasets' save_to_disk writes for a DatasetDict
DEFAULT_MASK_PROBABILITY = 0.15


def evaluate_run(run_dir: str | os.PathLike[str], *, data: str | None = None, split: str | None = None,
                 batch_size: int = 32, device: str | None = None) -> tuple[dict[str, float], str]:
    """``(metrics, what was scored)`` of the model saved in ``run_dir``: the metrics
    validation reports, with the run's loss and ``[quantum]`` settings when it has a config.
    ``split``: ``"test"`` (default) or ``"val"``, of the run or of a saved ``datasets`` folder."""
    run_dir = Path(run_dir)
    predictor = load(run_dir, device=device)
    config = load_run_config(run_dir / CONFIG_FILE) if (run_dir / CONFIG_FILE).is_file() else None
    if data is not None:
        loader, what = _file_loader(predictor, config, data, split, batch_size)
    elif config is None:
        raise ValueError(f"{str(run_dir)!r} has no {CONFIG_FILE} to rebuild its data from: give --data FILE")
    else:
        loader, what = _run_split(config, predictor, split or "test", batch_size)
    loss = quantum = None
    if config is not None:  # one process scores: no collective of a distributed run
        loss = config.loss
        quantum = attrs.evolve(config.quantum, distributed_training=False, quantum_sync=False, entanglement_sync=False)
    trainer = QuantumTrainer(predictor.model, None, loss, quantum, device=predictor.device, progress_bar=False,
                             epoch_table=False)
    return trainer.test(loader), what


def _file_loader(predictor: Predictor, config: RunConfig | None, data: str, split: str | None,
                 batch_size: int) -> tuple[Any, str]:
    """The batches of a labelled file (or a ``datasets`` folder's split) as the model reads
    them; a masked LM's texts are masked as in its training (a seeded mask)."""
    if (Path(data) / DATASET_DICT_FILE).is_file():
        table = SPLITS[split or "test"]
    elif split is not None:
        raise ValueError(f"--split {split}: {data} is one table (--split picks a split of a saved datasets folder)")
    else:
        table = None
    masked = isinstance(predictor.model, QuantumMaskedLM)
    dataset = predictor.dataset(data, split=table, **({"label_field": None} if masked else {}))
    tokenizer = predictor.tokenizer
    assert tokenizer is not None  # dataset() needs one
    if masked:
        if tokenizer.mask_id is None:
            raise ValueError("the model's tokenizer has no mask token to score a masked LM with")
        probability = config.data.loader_options.get("mask_probability", DEFAULT_MASK_PROBABILITY) if (
            config is not None) else DEFAULT_MASK_PROBABILITY
        collate: Any = MLMCollator(tokenizer.vocab_size, tokenizer.mask_id, tokenizer.special_ids, probability,
                                   torch.Generator().manual_seed(0), pad_id=tokenizer.pad_id)
    else:
        collate = partial(pad_collate, pad_id=tokenizer.pad_id)
    where = f"{data} ({table} split)" if table else data
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate), \
        f"{where} ({len(dataset)} examples)"


def _run_split(config: RunConfig, predictor: Predictor, split: str, batch_size: int) -> tuple[Any, str]:
    """The run's ``split`` loader, its data rebuilt with the saved tokenizer and label map
    (the same seed draws the same rows)."""
    if config.data.module is not None:
        raise ValueError(f"{config.source}: the run's data came from [data] module {config.data.module!r}, which "
                         "gives no test split; give --data FILE")
    config = attrs.evolve(config, data=attrs.evolve(
        config.data, loader_options={**config.data.loader_options, "batch_size": batch_size}))
    with blame(config.source, "data"):
        data = build_data(config, tokenizer=predictor.tokenizer, labels=predictor.labels)
    loader = data.test if split == "test" else data.val
    if loader is None:
        why = " (a masked LM has none: --split val)" if split == "test" and MODELS[config.model.name] != "loaders" else ""
        raise ValueError(f"{config.source}: the run's data has no {'test' if split == 'test' else 'validation'} "
                         f"split to score{why}; give --data FILE")
    return loader, f"the run's {split} split ({len(loader.dataset)} examples)"
