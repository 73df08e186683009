"""Every snippet of the seed's training sections runs as written, and then does
what the seed says it does."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from qembed.nn import role_of
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer
from tests.seed import snippets



def run(snippet: str, namespace: dict) -> dict:
    exec(compile(snippet, "<seed snippet>", "exec"), namespace)
    return namespace


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


def test_quick_start(snippet_namespace):
    ns = run(snippets.QUICK_START, snippet_namespace)
    history = ns["history"]
    assert history is ns["trainer"].training_history
    assert len(history["train_loss"]) == len(history["val_loss"]) == 10
    assert finite(history["train_loss"] + history["quantum_loss"])
    assert history["collapse_probability"] == sorted(history["collapse_probability"])  # linear rises


def test_training_configuration(snippet_namespace):
    ns = run(snippets.TRAINING_CONFIGURATION, snippet_namespace)
    trainer = ns["trainer"]
    assert trainer.config.uncertainty_regularization == 0.1
    # the quantum gradients (parameters with a quantum role) clipped to max_quantum_grad_norm
    assert trainer.config.clipping_spec() == {"name": "global_norm", "max_norm": 1.0, "parameters": "quantum"}
    layer = trainer.model.encoder.embeddings
    assert type(layer.collapse).__name__ == "ContextAwareCollapse"
    metrics = trainer.train_epoch(ns["train_loader"])
    assert finite(metrics.values())


def test_pretraining_workflow(mlm_namespace):
    ns = run(snippets.PRETRAINING_WORKFLOW, mlm_namespace)
    history = ns["pretrainer"].training_history
    assert len(history["train_loss"]) == 100
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert Path("pretrained_quantum_model.pth").is_file()


def test_finetuning_workflow(snippet_namespace, corpus):
    model = snippet_namespace["quantum_model"]
    snippet_namespace.update(
        finetune_optimizer=QuantumOptimizer(model.parameters(), lr=1e-3),
        task_loss=QuantumLoss(),
        task_train_loader=snippet_namespace["train_loader"],
        task_val_loader=snippet_namespace["val_loader"],
    )
    ns = run(snippets.FINETUNING_WORKFLOW, snippet_namespace)
    history = ns["finetuner"].training_history
    assert 1 <= len(history["val_loss"]) <= 5
    assert set(history["collapse_probability"]) == {0.5}  # 'constant' keeps its value
    entanglement = [p for p in model.parameters() if role_of(p) == "entanglement"]
    assert entanglement and not any(p.requires_grad for p in entanglement)


def test_continual_learning_workflow(snippet_namespace, corpus):
    model = snippet_namespace["quantum_model"]
    snippet_namespace.update(
        continual_optimizer=QuantumOptimizer(model.parameters(), lr=1e-3),
        continual_loss=QuantumLoss(),
        task_sequence=corpus.task_sequence(num_tasks=3, batch_size=16),
    )
    ns = run(snippets.CONTINUAL_LEARNING_WORKFLOW, snippet_namespace)
    trainer = ns["continual_trainer"]
    assert len(trainer.training_history["train_loss"]) == 9  # 3 tasks x 3 epochs, one history
    assert trainer.epoch == 9
    assert len(trainer.replay) > 0  # quantum_memory_replay=True keeps a reservoir across tasks


@pytest.mark.parametrize(
    ("snippet", "check"),
    [
        (snippets.LINEAR_SCHEDULE, lambda p: p == sorted(p) and p[0] < p[-1]),
        (snippets.CYCLIC_SCHEDULE, lambda p: min(p) == 0.0 and max(p) == 1.0),
        (snippets.CONSTANT_SCHEDULE, lambda p: set(p) == {0.5}),
    ],
)
def test_superposition_schedules(snippet_namespace, snippet, check):
    ns = run(snippet, snippet_namespace)
    seen = []

    class Recorder:
        from qembed import hookimpl

        @hookimpl
        def qembed_on_log(self, trainer, step, metrics):
            seen.append(metrics["collapse_probability"])

    config = {**ns["quantum_config"], "log_every_n_steps": 1}
    trainer = QuantumTrainer(ns["model"], ns["optimizer"], ns["loss_fn"], config, plugins=[Recorder()],
                             progress_bar=False)
    trainer.train(ns["train_loader"], num_epochs=4)
    assert len(seen) == 12 and check(seen)


@pytest.mark.parametrize("snippet", [snippets.QUANTUM_LOSS, snippets.UNCERTAINTY_LOSS, snippets.ENTANGLEMENT_LOSS])
def test_losses(snippet_namespace, snippet):
    ns = run(snippet, snippet_namespace)
    built = [v for k, v in ns.items() if k.endswith("_loss") and isinstance(v, torch.nn.Module)]
    assert len(built) == 1
    trainer = QuantumTrainer(ns["model"], ns["optimizer"], built[0], progress_bar=False)
    metrics = trainer.train_epoch(ns["train_loader"])
    assert finite(metrics.values()) and metrics["quantum_loss"] > 0


@pytest.mark.parametrize("snippet", [snippets.QUANTUM_OPTIMIZER, snippets.ENTANGLEMENT_OPTIMIZER,
                                     snippets.UNCERTAINTY_OPTIMIZER])
def test_optimizers(snippet_namespace, snippet):
    ns = run(snippet, snippet_namespace)
    built = [v for k, v in ns.items() if k.endswith("_optimizer") and isinstance(v, torch.optim.Optimizer)]
    assert len(built) == 1
    before = [p.detach().clone() for p in ns["model"].parameters()]
    trainer = QuantumTrainer(ns["model"], built[0], ns["loss_fn"], progress_bar=False)
    trainer.train(ns["train_loader"], num_epochs=1)
    assert any(not torch.equal(b, p) for b, p in zip(before, ns["model"].parameters()))


def test_training_and_validation_metrics(snippet_namespace, capsys):
    ns = snippet_namespace
    ns["trainer"] = QuantumTrainer(ns["model"], ns["optimizer"], ns["loss_fn"])
    run(snippets.TRAINING_METRICS, ns)
    run(snippets.VALIDATION_METRICS, ns)
    printed = capsys.readouterr().out
    for label in ("Loss:", "Quantum Loss:", "Uncertainty:", "Entanglement Strength:",
                  "Superposition Coherence:", "Validation Loss:", "Validation Accuracy:",
                  "Validation Uncertainty:"):
        assert label in printed
    assert 0.0 <= ns["val_metrics"]["accuracy"] <= 1.0


def test_training_history_plot(snippet_namespace):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ns = snippet_namespace
    ns["trainer"] = QuantumTrainer(ns["model"], ns["optimizer"], ns["loss_fn"], progress_bar=False)
    ns["trainer"].train(ns["train_loader"], ns["val_loader"], num_epochs=2)
    ns = run(snippets.TRAINING_HISTORY, ns)
    figure = ns["plt"].gcf()
    assert len(figure.axes) == 3
    assert len(figure.axes[0].lines) == 2 and len(figure.axes[0].lines[0].get_ydata()) == 2


def test_custom_loss(snippet_namespace):
    ns = run(snippets.CUSTOM_LOSS, snippet_namespace)
    seen = []
    original = ns["custom_loss"].forward

    def spy(outputs, labels, uncertainty=None):
        seen.append(uncertainty)
        return original(outputs, labels, uncertainty)

    ns["custom_loss"].forward = spy
    history = ns["trainer"].train(ns["train_loader"], num_epochs=1)
    assert seen and all(u is not None and u.shape == (len(u),) for u in seen)
    assert finite(history["train_loss"])


def test_gradient_clipping(snippet_namespace):
    ns = run(snippets.GRADIENT_CLIPPING, snippet_namespace)
    trainer = ns["trainer"]
    assert trainer.config.clipping_spec()["name"] == "separate"
    trainer.train_epoch(ns["train_loader"])
    assert {"grad_norm/quantum", "grad_norm/classical"} <= set(trainer._grad_norms)


def test_model_checkpointing(snippet_namespace):
    ns = snippet_namespace
    ns["trainer"] = QuantumTrainer(ns["model"], ns["optimizer"], ns["loss_fn"], progress_bar=False)
    run(snippets.MODEL_CHECKPOINTING, ns)
    assert Path("checkpoints/best_model.pth").is_file()
    fresh = small_classifier_like(ns)
    QuantumTrainer(fresh, QuantumOptimizer(fresh.parameters()), QuantumLoss(), progress_bar=False).load_model(
        "./checkpoints/best_model.pth")
    saved = torch.load("checkpoints/best_model.pth", weights_only=True)["model_state"]
    assert all(torch.equal(saved[k], v) for k, v in fresh.state_dict().items())


def small_classifier_like(ns: dict) -> torch.nn.Module:
    model = ns["model"]
    return type(model)(model.encoder.embeddings.vocab_size, model.num_labels, embedding_dim=16, num_heads=2,
                       num_layers=1, max_length=32)


@pytest.mark.parametrize("snippet", [snippets.MEMORY_EFFICIENCY, snippets.COMPUTATIONAL_EFFICIENCY])
def test_performance_optimization_configs_train_with_the_seeds_cross_entropy(snippet_namespace, snippet):
    ns = run(snippet, snippet_namespace)
    model = ns["model"]
    batch_sizes = []
    model.register_forward_hook(lambda module, args, kwargs, output: batch_sizes.append(kwargs["input_ids"].shape[0]),
                                with_kwargs=True)
    trainer = QuantumTrainer(model, ns["optimizer"], ns["CrossEntropyLoss"](), ns["quantum_config"],
                             progress_bar=False)
    assert finite(trainer.train_epoch(ns["train_loader"]).values())
    batch_sizes.clear()
    metrics = trainer.validate(ns["val_loader"])
    assert 0 <= metrics["uncertainty"] <= 1 and 0 <= metrics["mutual_information"] <= metrics["uncertainty"]
    samples = trainer.config.uncertainty_samples
    if ns["quantum_config"].get("quantum_parallel"):  # the collapse samples in one forward per batch
        assert batch_sizes == [32, 32 * samples]
    else:
        assert batch_sizes == [32] * (1 + samples)
