"""Search the seed's Ray Tune space (uncertainty_regularization, entanglement_training,
superposition_schedule) for ``QuantumClassifier`` on the embedded polysemy corpus, then
test the best trial's best checkpoint.

    python examples/ray_tune_search.py            # 8 trials of up to 6 epochs, about a minute on 2 CPU cores
    python examples/ray_tune_search.py --smoke    # 2 tiny trials of 2 epochs, about 15 s

Needs ``pip install "qembed[ray]"``. Every trial reports each epoch's ``val_loss``,
``val_accuracy`` and ``uncertainty`` with its checkpoint, so the ASHA scheduler can stop poor
trials early and a failed trial resumes from its last epoch (``FailureConfig``). Ray starts a
local instance, or joins the cluster ``RAY_ADDRESS`` names; results go to ``--storage-path``
(Tune's default ``~/ray_results``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from qembed.data import PolysemyCorpus
from qembed.integrations.ray import tune_trainable
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

SEARCH_SPACE = {
    "uncertainty_regularization": tune.loguniform(0.01, 0.5),
    "entanglement_training": tune.choice([True, False]),
    "superposition_schedule": tune.choice(["linear", "cyclic", "constant"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="trials to sample from the space")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per trial (at most)")
    parser.add_argument("--storage-path", default=None, help="where Tune writes results and checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="2 trials of 2 epochs on a tiny corpus")
    args = parser.parse_args()
    samples, epochs = (2, 2) if args.smoke else (args.samples, args.epochs)
    sizes = dict(num_train=64, num_val=32, num_test=32) if args.smoke else {}
    dim = 8 if args.smoke else 16

    corpus = PolysemyCorpus(seed=args.seed, **sizes)  # here for its sizes and the test split
    vocab_size, num_labels = corpus.vocab_size, corpus.num_labels

    # The callables close over plain values, not the corpus: each trial rebuilds the same
    # corpus from its seed, so no data travels with the trainable to the trials.
    def build_model(config=None) -> QuantumClassifier:
        return QuantumClassifier(vocab_size, num_labels, embedding_dim=dim, max_length=64)

    def build_loaders(config):
        return PolysemyCorpus(seed=args.seed, **sizes).loaders(batch_size=32, seed=args.seed)[:2]

    trainable = tune_trainable(
        model=build_model,
        data=build_loaders,
        optimizer={"name": "quantum", "lr": 3e-3, "quantum_learning_rate": 1e-2},
        loss_fn={"name": "quantum", "uncertainty_weight": 0.05},
        quantum_training_config={"quantum_gradient_clipping": True},
        num_epochs=epochs,
        seed=args.seed,
    )
    tuner = tune.Tuner(
        trainable,
        param_space=SEARCH_SPACE,
        tune_config=tune.TuneConfig(num_samples=samples, metric="val_loss", mode="min",
                                    scheduler=ASHAScheduler(max_t=epochs, grace_period=min(2, epochs))),
        run_config=tune.RunConfig(
            name="qembed-search",
            storage_path=None if args.storage_path is None else str(Path(args.storage_path).resolve()),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="val_loss",
                                                    checkpoint_score_order="min"),
            failure_config=tune.FailureConfig(max_failures=2),
            verbose=0,
        ),
    )
    results = tuner.fit()
    if results.errors:
        raise SystemExit(f"{results.num_errors} trial(s) failed; first error: {results.errors[0]}")

    print(f"{'schedule':>9} {'entangle':>8} {'unc_reg':>7} {'epochs':>6} {'val_loss':>8} {'val_acc':>7} {'uncert':>6}")
    for result in sorted(results, key=lambda r: r.metrics["val_loss"]):
        config, metrics = result.config, result.metrics
        print(f"{config['superposition_schedule']:>9} {config['entanglement_training']!s:>8} "
              f"{config['uncertainty_regularization']:7.3f} {metrics['training_iteration']:6d} "
              f"{metrics['val_loss']:8.4f} {metrics['val_accuracy']:7.3f} {metrics['uncertainty']:6.3f}")

    best = results.get_best_result()
    checkpoint = best.get_best_checkpoint("val_loss", "min")
    model = build_model()
    with checkpoint.as_directory() as folder:
        model.load_state_dict(torch.load(Path(folder) / "last.pth", weights_only=True)["model_state"])
    test = QuantumTrainer(model, "quantum", progress_bar=False).validate(corpus.loaders(batch_size=32)[2])
    print(f"best trial: {best.config}")
    print(f"its best checkpoint: test accuracy {test['accuracy']:.3f}, test loss {test['loss']:.4f} "
          f"(chance {1 / corpus.num_labels:.3f})")


if __name__ == "__main__":
    main()
