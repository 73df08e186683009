"""The quantum classifier against an ablation and the classical baseline, measured the way
``benchmarks/science.py`` measures them: test accuracy, sense accuracy against the
most-frequent-sense baseline, and how well each model's uncertainty detects its own errors.

    python examples/ablations.py                                   # 400 sentences, 30 epochs, ~1.5 min
    python examples/ablations.py --models quantum,context_free     # any of the names below
    python examples/ablations.py --smoke                           # a few seconds

One seed here; the benchmark runs five and reports confidence intervals.
"""

from __future__ import annotations

import argparse

import torch

from qembed.data import PolysemyCorpus
from qembed.metrics import collect_sense_choices, sense_accuracy
from qembed.models import ClassicalClassifier, QuantumClassifier
from qembed.training import QuantumTrainer

#: Each model: the quantum classifier with one switch, or the classical baseline.
MODELS = {
    "quantum": {},
    "one_sense": {"num_states": 1},
    "no_entanglement": {"entanglement": "none"},
    "no_collapse": {"collapse": False},
    "context_free": {"contextual": False},
    "classical": None,
}


def build(name: str, corpus: PolysemyCorpus) -> torch.nn.Module:
    sizes = {"vocab_size": corpus.vocab_size, "num_labels": corpus.num_labels, "max_length": 64}
    switches = MODELS[name]
    return ClassicalClassifier(**sizes) if switches is None else QuantumClassifier(**sizes, **switches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="quantum,one_sense,classical",
                        help=f"comma-separated, among {', '.join(MODELS)}")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and one epoch")
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {', '.join(map(repr, unknown))}; choose among {', '.join(MODELS)}")

    corpus = PolysemyCorpus(seed=0, **(dict(num_train=64, num_val=8, num_test=64) if args.smoke
                                      else dict(num_train=400)))
    epochs = 1 if args.smoke else args.epochs
    for name in names:
        train, _, test = corpus.loaders(batch_size=32, seed=args.seed)  # the same order for every model
        torch.manual_seed(args.seed)
        model = build(name, corpus)
        trainer = QuantumTrainer(model, {"name": "adamw", "lr": 3e-3}, "cross_entropy", progress_bar=False,
                                 epoch_table=False, seed=args.seed)  # one line per model instead
        trainer.train(train, num_epochs=epochs)
        metrics = trainer.validate(test)  # uncertainty from 8 collapse samples
        line = (f"{name:16s} {sum(p.numel() for p in model.parameters()):>8,} params  "
                f"accuracy {metrics['accuracy']:.3f}  uncertainty AUROC {metrics['uncertainty_auroc']:.3f} "
                f"(predictive entropy {metrics['predictive_entropy_auroc']:.3f})  ECE {metrics['ece']:.3f}")
        if getattr(model, "encoder", None) is not None and model.encoder.embeddings.num_states > 1:
            senses = sense_accuracy(collect_sense_choices(model, train), collect_sense_choices(model, test))
            line += f"  sense accuracy {senses.accuracy:.3f} (most frequent sense {senses.baseline:.3f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
