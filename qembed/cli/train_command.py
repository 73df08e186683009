"""``qembed train CONFIG``: train the run a TOML or YAML run config describes.

The config is checked and every part built before anything is written; the run folder
then gets TensorBoard events, ``history.json``, the resolved ``config.yaml``,
``checkpoints/`` and, when training ends, ``model/`` (the model with its tokenizer and labels). A per-epoch table is printed as the epochs finish.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a run is built: the command line starts without torch
    from qembed.cli.run_setup import PreparedRun

EPILOG = """examples:
  qembed train examples/configs/polysemy.toml
  qembed train examples/configs/polysemy.yaml --set training.epochs=2 --set optimizer.lr=1e-3
  qembed train examples/configs/polysemy.toml --dry-run        check and build, train nothing
  qembed train runs/polysemy-20250101-120000/config.yaml --resume runs/polysemy-20250101-120000

The run folder ([training] log_dir, default runs/{name}-{timestamp}) holds TensorBoard
events, history.json, the resolved config.yaml, checkpoints/ (last.pth and the best,
epoch=E-step=S-<monitor>=V.pth) and, when training ends, model/: the model with its
tokenizer and labels (qembed predict / evaluate / explain RUN_DIR, qembed.load(RUN_DIR)).
--resume takes that folder (its newest of last.pth and interrupted.pth) or a checkpoint
file and continues the run exactly, mid-epoch after Ctrl-C or SIGTERM (exit codes 130, 143);
[training] epochs counts from the run's start. Every section and key: docs/cli.md.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="train the run a TOML or YAML config file describes",
        description="Train the model, data, optimizer, loss, schedule, clipping and replay that a run\n"
        "config names by string names and options. Logs, history.json, the resolved config\n"
        "and checkpoints go to the run folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, metavar="CONFIG", help="a .toml, .yaml or .yml run config")
    parser.add_argument("--resume", type=Path, metavar="PATH",
                        help="continue the run in this run folder (the newer of its checkpoints/last.pth and "
                        "interrupted.pth) or from this checkpoint")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a key of the file (the value is read as TOML, else as a string); repeatable")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the config and build everything, print the resolved config, train nothing")
    parser.set_defaults(run=run)


def parse_override(text: str) -> tuple[str, Any]:
    """``'training.epochs=2'`` -> ``('training.epochs', 2)``: the value is read as a TOML
    value (numbers, booleans, quoted strings, ``[...]``, ``{...}``), else kept as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set {text!r} must look like SECTION.KEY=VALUE, e.g. training.epochs=2")
    try:
        return key.strip(), tomllib.loads(f"value = {value}")["value"]
    except tomllib.TOMLDecodeError:
        return key.strip(), value


def run(args: argparse.Namespace) -> int:
    overrides = dict(parse_override(text) for text in args.overrides)
    return train(args.config, overrides, resume=args.resume, dry_run=args.dry_run)


def train(config_path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, *,
          resume: Path | None = None, dry_run: bool = False,
          after_training: Callable[[Path], None] | None = None) -> int:
    """Check, build and train the run a config file describes, printing its progress;
    returns the exit code (``qembed demo`` runs its packaged config through here, and
    ``after_training(run_dir)`` once the model folder is written)."""
    import yaml

    from qembed.cli.run_config import load_run_config
    from qembed.cli.run_setup import prepare_run
    from qembed.training.console import EpochTable

    config = load_run_config(config_path, overrides)
    table = EpochTable()
    prepared = prepare_run(config, resume=resume, hooks=[table])
    if dry_run:
        print(yaml.safe_dump(config.to_dict(prepared.run_dir), sort_keys=False), end="")
        print(f"# {config.source}: checked and built; a run would write to {prepared.run_dir}")
        return 0
    run_dir, epochs = prepared.run_dir, config.training.epochs
    reports = prepared.trainer.is_main_process  # in a torchrun job rank 0 reports for every rank
    if reports and prepared.resume_from is None:
        print(f"training {config.model.name} on {prepared.data.description} for {_epochs(epochs)}; logs in {run_dir}")
    elif reports:
        print(f"continuing {prepared.resume_from} up to {_epochs(epochs)}: {config.model.name} on "
              f"{prepared.data.description}; logs in {run_dir}")
    try:
        prepared.train()
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: the step finished and interrupted.pth was written
        from qembed.training.interruption import exit_code

        if reports:
            how = f"; continue with: qembed train {run_dir / 'config.yaml'} --resume {run_dir}"
            print(f"\ninterrupted ({_signal_name(err)}){how if config.training.checkpoints else ''}",
                  file=sys.stderr)
        return exit_code(err)
    model_dir = prepared.save_model()
    if reports:
        _print_summary(prepared, table.rows_printed, model_dir)
        if after_training is not None:
            after_training(run_dir)
    return 0


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"


def _signal_name(err: KeyboardInterrupt) -> str:
    import signal

    return signal.Signals(getattr(err, "signum", signal.SIGINT)).name


def _print_summary(prepared: PreparedRun, rows_printed: int, model_dir: Path | None) -> None:
    """What the run wrote and how to go on with it."""
    config, run_dir = prepared.config, prepared.run_dir
    if rows_printed == 0:
        print(f"the run already has {_epochs(prepared.trainer.epoch)}; raise [training] epochs to train more "
              f"(e.g. --set training.epochs={prepared.trainer.epoch + 1})")
    print()
    if model_dir is not None and prepared.data.tokenizer is not None:
        print(f"model:      {model_dir}   (qembed predict {run_dir} \"some text\"; qembed evaluate {run_dir})")
    elif model_dir is not None:  # a [data] module's loaders bring no tokenizer: the model reads token ids
        print(f"model:      {model_dir}   (no tokenizer: {type(prepared.trainer.model).__name__}.from_pretrained"
              f"(\"{model_dir}\") in Python)")
    if config.training.save_best_model:
        print(f"best model: {run_dir / 'best_model.pth'}")
    if config.training.checkpoints:
        print(f"resume:     qembed train {run_dir / 'config.yaml'} --resume {run_dir}")
    print(f"curves:     tensorboard --logdir {run_dir}   (or: qembed plot {run_dir})")
