"""``qembed plot RUN_DIR``: the curves of a training run, from its ``history.json``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qembed.cli.extras import import_extra

CURVES_FILE = "curves.png"
EPILOG = f"""examples:
  qembed plot runs/demo-20250101-120000                writes runs/demo-20250101-120000/{CURVES_FILE}
  qembed plot runs/demo-20250101-120000 -o demo.svg    another file; the format follows the suffix
  qembed plot runs/demo-20250101-120000/history.json   the history file itself works too

Panels: loss (train and validation), validation accuracy, uncertainty,
quantum loss, collapse probability and entanglement, per epoch; a panel
whose values the history lacks is left out. Needs matplotlib:
pip install 'qembed[plot]'.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "plot",
        help="draw a training run's curves (loss, uncertainty, quantum loss, ...) into a PNG",
        description="Draw the curves of a training run from the history.json that the trainer "
        "writes into its run folder (its log_dir).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder holding history.json (or the file)")
    parser.add_argument("-o", "--output", type=Path,
                        help=f"image to write (default RUN_DIR/{CURVES_FILE}; .png, .svg, .pdf, ...)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    plotting = import_extra("qembed.plotting")
    history = plotting.read_history(args.run_dir)
    run_dir = args.run_dir.parent if args.run_dir.is_file() else args.run_dir
    figure = plotting.plot_history(history, title=f"Training run {run_dir}")
    path = plotting.save_figure(figure, args.output or run_dir / CURVES_FILE)
    print(f"wrote {path}")
    return 0
