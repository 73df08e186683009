"""``qembed evaluate RUN_DIR``: the test metrics of a trained model, printed and written."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from qembed.cli.predict_command import add_model_arguments

EPILOG = """examples:
  qembed evaluate runs/polysemy-20261206-101500                  the run's own test split
  qembed evaluate runs/reviews-20261206-101500 --data new.csv    a labelled file, read as the run's data was
  qembed evaluate runs/reviews-20261206-101500 --split val
  qembed evaluate runs/reviews-20261206-101500 --data saved_dataset --split test   a datasets folder's split

The metrics are those of validation during training (docs/training/quantum_trainer.md):
accuracy, loss, nll, the quantum measures, calibration (ece, brier) and how well the
uncertainty detects errors (uncertainty_auroc). They are printed and written as JSON to
RUN_DIR/metrics-<split>.json (metrics-data-<file name>.json with --data) unless --output names another file (null where a
metric is undefined, e.g. uncertainty_auroc when every prediction is right). Without
--data, RUN_DIR must be a run folder of qembed train: its config.yaml rebuilds the split
(the same seed gives the same sentences) and its loss and [quantum] settings score it.
"""

SPLITS = ("test", "val")  # qembed.cli.run_evaluation.SPLITS maps them to a datasets folder's splits


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a trained model on its run's test split or a labelled file",
        description="Evaluate the model saved in RUN_DIR: accuracy, loss, the quantum measures and calibration.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument("--data", metavar="FILE",
                        help="a labelled .jsonl / .csv / .tsv file or saved datasets folder (default: the run's split)")
    parser.add_argument("--split", choices=SPLITS, help="the split to score: of the run, or of a saved datasets "
                        "folder given as --data (default test)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the metrics (JSON)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="examples per batch (default 32)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from qembed.cli.run_evaluation import evaluate_run

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be an integer >= 1, got {args.batch_size}")
    metrics, what = evaluate_run(args.run_dir, data=args.data, split=args.split, batch_size=args.batch_size,
                                 device=args.device)
    name = f"data-{Path(args.data).stem}" if args.data is not None else args.split or "test"
    output = args.output or args.run_dir / f"metrics-{name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    defined = {key: value if math.isfinite(value) else None for key, value in metrics.items()}  # strict JSON
    output.write_text(json.dumps(defined, indent=2) + "\n", encoding="utf-8")
    print(f"{what}:")
    width = max(len(key) for key in metrics)
    for key, value in metrics.items():
        print(f"  {key:<{width}}  {value:.4f}")
    print(f"wrote {output}")
    return 0
