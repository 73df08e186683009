"""``qembed demo``: the main job of ``make demo``.

Runs the packaged example config ``qembed/configs/demo.toml`` through ``qembed train``:
``QuantumClassifier`` on the embedded polysemy corpus, every component chosen by string
name, with TensorBoard logs, ``history.json``, the best model and checkpoints under
``runs/demo-<timestamp>/``; a per-epoch table is printed as it trains. Then the trained
model draws ``bank`` in a finance and a nature sentence (``senses.png``, as ``qembed explain``).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from qembed.cli import train_command
from qembed.cli.argument_types import positive_int

#: two sentences where ``bank`` means two things (words of the embedded corpus's vocabulary)
BANK_SENTENCES = ("the teller at the bank saw the cash deposit", "we saw the bank of the river in the rain")
SENSES_FILE = "senses.png"

EPILOG = """examples:
  qembed demo
  qembed demo --epochs 2 --runs-dir /tmp/runs

The run is the packaged config qembed/configs/demo.toml; `qembed train` trains any
config of that format (its copy with every default filled in lands in the run folder
as config.yaml).
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="train a QuantumClassifier on the embedded polysemy corpus (about 40 s on 2 CPU cores)",
        description="Train QuantumClassifier on the embedded polysemy corpus with components chosen\n"
        "by string name: the packaged config demo.toml, run as `qembed train` runs it. TensorBoard\n"
        "logs, history.json, the best model and checkpoints go to runs/demo-<timestamp>/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=positive_int, help="training epochs (default: the config's, 8)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs)")
    parser.add_argument("--seed", type=int, help="seed of the corpus, the model and training (default 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    runs_dir = str(args.runs_dir).replace("{", "{{").replace("}", "}}")
    overrides: dict[str, Any] = {"training.log_dir": f"{runs_dir}/{{name}}-{{timestamp}}"}
    if args.epochs is not None:
        overrides["training.epochs"] = args.epochs
    if args.seed is not None:
        overrides["training.seed"] = args.seed
    with resources.as_file(resources.files("qembed") / "configs" / "demo.toml") as config:
        return train_command.train(config, overrides, after_training=draw_senses)


def draw_senses(run_dir: Path) -> None:
    """Draw ``bank`` in a finance and a nature sentence with the trained model
    (``qembed explain``), into the run folder."""
    from qembed.inference import load

    try:
        import qembed.plotting  # noqa: F401  # matplotlib, the plot extra
    except ImportError as err:  # the run is trained and saved: the picture is a bonus
        print(f"senses:     not drawn: {err}")
        return
    path = run_dir / SENSES_FILE
    load(run_dir).explain(BANK_SENTENCES, path=path)
    sentences = " ".join(f'"{sentence}"' for sentence in BANK_SENTENCES)
    print(f"senses:     {path}   (qembed explain {run_dir} {sentences})")
