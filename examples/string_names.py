"""Components by string name: list what is registered, then train with every component
(optimizer, loss, schedule, collapse, clipping, replay) picked by name and options.

Each component is a name (``"adamw"``) or a ``{"name": ..., **options}`` spec; the plugin
registry builds it, so a third-party plugin's names work the same way once it is installed
(``pip install ./examples/third_party_plugin``, then ``--schedule cosine_ramp``).

    python examples/string_names.py                # 4 epochs on 4000 sentences, about 25 s on 2 CPU cores
    python examples/string_names.py --smoke        # tiny corpus and model, 2 epochs, a few seconds
    python examples/string_names.py --schedule '{"name": "constant", "value": 0.25}' --loss cross_entropy
    python examples/string_names.py --out runs/sn  # where the files go (default runs/string_names)

Writes ``<out>/components.json`` (every registered name with its distribution and version),
``<out>/history.json`` and TensorBoard logs; prints the listing, what each name built, and the
validation accuracy. A name nobody registered stops the script with qembed's error, which
lists what is available and suggests close matches.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import ConfigError, QuantumTrainer


def spec(text: str) -> Any:
    """A bare name, or a JSON object ``{"name": ..., **options}``."""
    return json.loads(text) if text.lstrip().startswith("{") else text


def list_components() -> dict[str, dict[str, dict[str, str | None]]]:
    """``{kind: {name: {distribution, version, summary}}}`` for every kind of component."""
    return {kind: {name: {"distribution": registration.distribution, "version": registration.version,
                          "summary": registration.summary}
                   for name, registration in sorted(plugins.available(kind).items())}
            for kind in plugins.KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", type=spec, default={"name": "entanglement", "lr": 2e-3, "entanglement_lr": 5e-3})
    parser.add_argument("--loss", type=spec, default={"name": "uncertainty", "uncertainty_weight": 0.1,
                                                      "uncertainty_type": "entropy"})
    parser.add_argument("--schedule", type=spec, default={"name": "cyclic", "num_cycles": 2})
    parser.add_argument("--collapse", type=spec, default={"name": "gumbel", "temperature": 0.5})
    parser.add_argument("--clipping", type=spec, default={"name": "adaptive", "clipping": 0.05})
    parser.add_argument("--replay", type=spec, default={"name": "class_balanced", "capacity": 256, "replay_ratio": 0.2})
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "string_names", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model, 2 epochs")
    args = parser.parse_args()

    components = list_components()
    for kind, names in components.items():
        print(f"{kind} ({len(names)})")
        for name, about in names.items():
            print(f"  {name:<15} {about['distribution']} {about['version']}  {about['summary']}")

    torch.manual_seed(args.seed)
    sizes = {"num_train": 128, "num_val": 64, "num_test": 1} if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    train_loader, val_loader, _ = corpus.loaders(batch_size=32, seed=args.seed)
    size = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1} if args.smoke else {}
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, max_length=64, **size)
    try:
        trainer = QuantumTrainer(
            model,
            args.optimizer,                               # optimizers
            args.loss,                                    # losses
            {
                "superposition_schedule": args.schedule,  # schedules
                "collapse_strategy": args.collapse,       # collapse
                "clipping": args.clipping,                # clipping
                "quantum_memory_replay": args.replay,     # replay
            },
            log_dir=args.out,
        )
    except ConfigError as err:  # a name nobody registered, or an option its factory rejects
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    built = {"optimizer": trainer.optimizer, "loss": trainer.loss_fn, "schedule": trainer.schedule,
             "collapse": model.encoder.embeddings.collapse, "clipping": trainer.clipping, "replay": trainer.replay}
    print("\nbuilt: " + ", ".join(f"{kind} {type(component).__name__}" for kind, component in built.items()))
    schedule = plugins.create("schedules", args.schedule)  # one component on its own
    print(f"schedule {args.schedule}: collapse probability over 8 steps "
          + " ".join(f"{schedule(step, 8):.2f}" for step in range(8)))

    history = trainer.train(train_loader, val_loader, num_epochs=2 if args.smoke else args.epochs)
    print(f"val accuracy {history['val_accuracy'][-1]:.3f} after {len(history['val_accuracy'])} epochs "
          f"(chance {1 / corpus.num_labels:.3f}); replay buffer holds {len(trainer.replay)} sentences")
    (trainer.log_dir / "components.json").write_text(json.dumps(components, indent=1))  # beside the run's files


if __name__ == "__main__":
    main()
