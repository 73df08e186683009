"""QuantumTrainer: configuration errors, bad input, the loop's arithmetic, hooks,
and the no-sync hot path."""

from __future__ import annotations

import json
import math
import os
import traceback
from pathlib import Path

import pytest
import torch
from torch import nn

import qembed
import qembed_plugins
from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier, QuantumMaskedLM
from qembed.plugins import PluginHookError
from qembed.training import ConfigError, QuantumTrainer, TrainingDivergedError


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=80, num_val=32, num_test=8)


def classifier(corpus, **options) -> QuantumClassifier:
    torch.manual_seed(0)
    return QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                             max_length=32, **options)


def trainer_for(corpus, config=None, **options) -> QuantumTrainer:
    model = options.pop("model", None) or classifier(corpus)
    return QuantumTrainer(model, options.pop("optimizer", "adamw"), options.pop("loss_fn", "cross_entropy"),
                          config, progress_bar=False, **options)


class Recorder:
    """A plugin that records every lifecycle hook call."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @hookimpl
    def qembed_on_train_start(self, trainer):
        self.events.append(("train_start",))

    @hookimpl
    def qembed_on_log(self, trainer, step, metrics):
        self.events.append(("log", step, dict(metrics)))

    @hookimpl
    def qembed_on_validation_end(self, trainer, epoch, metrics):
        self.events.append(("validation_end", epoch))

    @hookimpl
    def qembed_on_epoch_end(self, trainer, epoch, metrics):
        self.events.append(("epoch_end", epoch))

    @hookimpl
    def qembed_on_checkpoint(self, trainer, path):
        self.events.append(("checkpoint", path))

    @hookimpl
    def qembed_on_train_end(self, trainer, history):
        self.events.append(("train_end",))


# --- configuration and bad input: errors before anything trains ----------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"superposition_shedule": "linear"}, "unknown key 'superposition_shedule' (did you mean 'superposition_schedule'?)"),
        ({"uncertainty_regularization": -0.1}, "'uncertainty_regularization'] must be >= 0.0"),
        ({"entanglement_training": "yes"}, "'entanglement_training'] must be True or False"),
        ({"log_every_n_steps": 0}, "'log_every_n_steps'] must be >= 1"),
        ({"mixed_precision": "fp8"}, "'mixed_precision'] must be one of False, True, 'bf16', 'fp16'"),
        ({"separate_clipping": True}, "needs 'quantum_gradient_clipping': True"),
        ({"superposition_schedule": "linera"}, "superposition_schedule: unknown superposition schedule 'linera' (did you mean 'linear'?)"),
        ({"superposition_schedule": {"name": "constant", "value": 2}}, "value must be in [0, 1], got 2"),
        ({"quantum_memory_replay": "resevoir"}, "did you mean 'reservoir'?"),
        ({"collapse_strategy": "contextaware"}, "did you mean 'context_aware'?"),
        ({"quantum_parallel": True, "uncertainty_samples": 0},
         "'quantum_parallel'] batches collapse samples, but none are drawn: CrossEntropyLoss draws none and "
         "'uncertainty_samples' is 0"),
        ({"uncertainty_samples": -1}, "'uncertainty_samples'] must be >= 0, got -1"),
        ({"uncertainty_samples": 1}, "'uncertainty_samples'] must be 0 (no collapse samples) or >= 2"),
        ({"distributed_training": True}, "needs the environment torchrun sets up (missing RANK"),
        ({"quantum_sync": True}, "'quantum_sync'] needs 'distributed_training': True"),
        ({"entanglement_sync": True}, "'entanglement_sync'] needs 'distributed_training': True"),
    ],
)
def test_bad_config_is_named_before_anything_is_built(corpus, config, message):
    with pytest.raises(ConfigError) as caught:
        trainer_for(corpus, config)
    assert message in str(caught.value)


def test_bad_component_names_are_named(corpus):
    with pytest.raises(ConfigError, match="optimizer: unknown optimizer 'adamm'.*did you mean 'adam'"):
        trainer_for(corpus, optimizer="adamm")
    with pytest.raises(ConfigError, match="loss_fn: unknown loss 'cross_entropi'"):
        trainer_for(corpus, loss_fn="cross_entropi")


def test_bad_train_arguments_fail_before_training(corpus):
    trainer = trainer_for(corpus)
    train, val, _ = corpus.loaders(batch_size=16)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(ValueError, match="num_epochs must be an integer >= 1, got 0"):
        trainer.train(train, num_epochs=0)
    with pytest.raises(ValueError, match="train_dataloader is empty"):
        trainer.train([], num_epochs=1)
    with pytest.raises(ValueError, match="val_dataloader must be a sized iterable"):
        trainer.train(train, (b for b in val), num_epochs=1)
    with pytest.raises(ValueError, match="needs 'labels'; this one has keys \\['attention_mask', 'input_ids'\\]"):
        trainer.train([{"input_ids": torch.ones(2, 3, dtype=torch.long),
                        "attention_mask": torch.ones(2, 3, dtype=torch.long)}], num_epochs=1)
    with pytest.raises(ValueError, match="save_best_model=True needs model_save_path"):
        trainer.train(train, num_epochs=1, save_best_model=True)
    # every weight as it was (the collapse probability is the schedule's to set at step 0)
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items()
               if not k.endswith("collapse_probability"))


def test_a_model_output_without_logits_is_named(corpus):
    class NoLogits(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            return {"scores": self.linear(x)}

    trainer = QuantumTrainer(NoLogits(), "sgd", "cross_entropy", progress_bar=False)
    with pytest.raises(ValueError, match="has no 'logits'; it has keys \\['scores'\\]"):
        trainer.train([(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))], num_epochs=1)


# --- the loop -------------------------------------------------------------------------------


def test_plain_modules_tuple_batches_and_torch_losses_train():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    trainer = QuantumTrainer(model, {"name": "adam", "lr": 0.05}, nn.CrossEntropyLoss(), progress_bar=False)
    history = trainer.train(batches, batches, num_epochs=15)
    assert history["val_accuracy"][-1] > 0.8
    assert history["uncertainty"] == [0.0] * 15  # a plain model reports no quantum measures


def test_loss_fn_none_uses_the_models_own_loss(corpus):
    trainer = trainer_for(corpus, loss_fn=None)
    train, _, _ = corpus.loaders(batch_size=16)
    history = trainer.train(train, num_epochs=1)
    assert history["train_loss"][0] > 0


@pytest.mark.parametrize("token_level", [False, True])
def test_gradient_accumulation_equals_the_full_batch_update(corpus, token_level):
    """Windows of micro-batches, including a partial last one, give the update of
    one batch holding all their examples (SGD, no randomness)."""
    if token_level:
        loader, _ = corpus.mlm_loaders(batch_size=40, shuffle=False)
        full = next(iter(loader))
        make = lambda: QuantumMaskedLM(corpus.vocab_size, embedding_dim=16, num_heads=2, num_layers=1,  # noqa: E731
                                       max_length=32, dropout=0.0, collapse_strategy="argmax")
    else:
        train, _, _ = corpus.loaders(batch_size=40, shuffle=False)
        full = next(iter(train))
        make = lambda: QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16,  # noqa: E731
                                         num_heads=2, num_layers=1, max_length=32, dropout=0.0,
                                         collapse_strategy="argmax")
    micro = [{k: v[i:i + 16] for k, v in full.items()} for i in (0, 16, 32)]  # 16 + 16 + 8 examples
    config = {"superposition_schedule": {"name": "constant", "value": 0.0}}
    results = []
    for batches, accumulate in (([full], 1), (micro, 3)):
        torch.manual_seed(0)
        model = make()
        trainer = QuantumTrainer(model, {"name": "sgd", "lr": 0.5}, "cross_entropy",
                                 {**config, "gradient_accumulation_steps": accumulate}, progress_bar=False)
        trainer.train_epoch(batches)
        assert trainer.global_step == 1
        results.append({k: v.clone() for k, v in model.state_dict().items()})
    for name in results[0]:
        assert torch.allclose(results[0][name], results[1][name], atol=1e-5), name


def test_schedule_counts_optimizer_steps_and_restarts_per_train_call(corpus):
    recorder = Recorder()
    trainer = trainer_for(corpus, {"log_every_n_steps": 1, "gradient_accumulation_steps": 2}, plugins=[recorder])
    train, _, _ = corpus.loaders(batch_size=16)  # 5 batches -> 3 optimizer steps per epoch
    trainer.train(train, num_epochs=2)
    trainer.train(train, num_epochs=1)
    logs = [(e[1], e[2]["collapse_probability"]) for e in recorder.events if e[0] == "log"]
    assert [step for step, _ in logs] == list(range(1, 10))
    assert [p for _, p in logs] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0, 0, 0.5, 1.0])
    assert trainer.epoch == 3 and len(trainer.training_history["train_loss"]) == 3


def test_lifecycle_hooks_run_in_the_documented_order(corpus, tmp_path):
    recorder = Recorder()
    trainer = trainer_for(corpus, {"log_every_n_steps": 2}, plugins=[recorder])
    train, val, _ = corpus.loaders(batch_size=16)
    trainer.train(train, val, num_epochs=2, save_best_model=True, model_save_path=tmp_path / "best.pth")
    names = [e[0] for e in recorder.events]
    assert names[0] == "train_start" and names[-1] == "train_end"
    assert names.count("log") == 5  # 10 optimizer steps, every 2nd
    first_epoch = names[: names.index("epoch_end") + 1]
    assert first_epoch == ["train_start", "log", "log", "validation_end", "checkpoint", "epoch_end"]
    for event in recorder.events:
        if event[0] == "log":
            assert set(event[2]) >= {"loss", "quantum_loss", "uncertainty", "collapse_probability", "lr"}
            assert all(isinstance(v, float) for v in event[2].values())


def test_a_plugin_can_ask_the_trainer_to_stop(corpus):
    class Stopper:
        @hookimpl
        def qembed_on_log(self, trainer, step, metrics):
            if step == 3:
                trainer.request_stop()

    trainer = trainer_for(corpus, {"log_every_n_steps": 1}, plugins=[Stopper()])
    train, _, _ = corpus.loaders(batch_size=16)
    trainer.train(train, num_epochs=5)
    assert trainer.global_step == 3 and trainer.epoch == 1


def test_early_stopping_counts_validations_without_improvement(corpus):
    trainer = trainer_for(corpus, optimizer={"name": "sgd", "lr": 0.0},
                          model=classifier(corpus, dropout=0.0, collapse_strategy="argmax"))
    train, val, _ = corpus.loaders(batch_size=16)
    assert len(trainer.train(train, val, num_epochs=10, early_stopping_patience=1)["val_loss"]) == 2
    # best at epoch 1, then one without improvement. Each train() call (a task) starts afresh:
    assert len(trainer.train(train, val, num_epochs=10, early_stopping_patience=3)["val_loss"]) == 2 + 1 + 3


def test_entanglement_training_false_freezes_and_drops_entanglement_terms(corpus):
    trainer = trainer_for(corpus, {"entanglement_training": False},
                          loss_fn={"name": "entanglement", "entanglement_weight": 1.0})
    layer = trainer.model.encoder.entanglement
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    train, _, _ = corpus.loaders(batch_size=16)
    metrics = trainer.train_epoch(train)
    assert metrics["quantum_loss"] == 0.0
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())


def test_uncertainty_regularization_adds_its_term_to_quantum_loss(corpus):
    train, _, _ = corpus.loaders(batch_size=16, shuffle=False)
    metrics = trainer_for(corpus, {"uncertainty_regularization": 0.5}).train_epoch(train)
    assert metrics["quantum_loss"] == pytest.approx(0.5 * metrics["uncertainty"], rel=1e-3)


def test_bf16_mixed_precision_trains_on_the_cpu(corpus):
    trainer = trainer_for(corpus, {"mixed_precision": True})
    assert trainer.precision.dtype is torch.bfloat16
    assert trainer.scaler.get_scale() == 1.0  # no loss scaling under bf16, only the non-finite guard
    train, val, _ = corpus.loaders(batch_size=16)
    history = trainer.train(train, val, num_epochs=1)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())


def test_history_json_is_written_to_the_log_dir(corpus, tmp_path):
    trainer = trainer_for(corpus, log_dir=tmp_path)
    train, val, _ = corpus.loaders(batch_size=16)
    history = trainer.train(train, val, num_epochs=2)
    assert json.loads((tmp_path / "history.json").read_text()) == history


def test_validation_ece_matches_its_definition(corpus):
    trainer = trainer_for(corpus)
    _, val, _ = corpus.loaders(batch_size=16)
    metrics = trainer.validate(val)
    trainer.model.eval()
    with torch.no_grad():
        logits = torch.cat([trainer.model(b["input_ids"], b["attention_mask"]).logits for b in val])
    labels = torch.cat([b["labels"] for b in val])
    confidence, prediction = logits.softmax(-1).max(-1)
    ece = 0.0
    for low in torch.linspace(0, 1, 16)[:-1]:
        inside = (confidence > low) & (confidence <= low + 1 / 15)
        if inside.any():
            accuracy = (prediction[inside] == labels[inside]).float().mean()
            ece += inside.float().mean() * (accuracy - confidence[inside].mean()).abs()
    assert metrics["ece"] == pytest.approx(float(ece), abs=1e-5)
    assert metrics["accuracy"] == pytest.approx(float((prediction == labels).float().mean()))
    assert metrics["nll"] == pytest.approx(float(nn.functional.cross_entropy(logits, labels)), rel=1e-4)


def test_the_hot_path_reads_the_device_only_when_logging(corpus, monkeypatch):
    """No .item() / float() / bool() / tolist() per step in qembed's code: one read per
    log and one per epoch. (torch's own CPU-side reads, e.g. AdamW's step counter, are
    not device reads; the id-range check of the inputs reads values only on the CPU and
    is an asynchronous device assert elsewhere.)"""
    trainer = trainer_for(corpus, {"log_every_n_steps": 4})
    train, _, _ = corpus.loaders(batch_size=8)  # 10 steps per epoch
    trainer.train_epoch(train)  # warm up: global steps 1-10
    reads = []
    qembed_code = (str(Path(qembed.__file__).parent) + os.sep, str(Path(qembed_plugins.__file__).parent) + os.sep)
    for method in ("item", "tolist", "__float__", "__bool__", "__int__"):
        original = getattr(torch.Tensor, method)

        def spy(self, *args, _original=original, _name=method, **kwargs):
            caller = traceback.extract_stack(limit=2)[0].filename
            if caller.startswith(qembed_code) and not caller.endswith("validation.py"):
                reads.append(f"{_name} in {caller.rsplit('/', 2)[-2]}/{caller.rsplit('/', 1)[-1]}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, spy)
    trainer.train_epoch(train)  # global steps 11-20: logs at 12, 16 and 20, then the epoch's means
    assert reads == ["tolist in training/step_metrics.py"] * 4


def poisoned_loader(corpus, poisoned: set[int]):
    train, _, _ = corpus.loaders(batch_size=16, shuffle=False)
    batches = list(train)
    for index in poisoned:
        batches[index] = {**batches[index], "poison": torch.ones(len(batches[index]["labels"]))}
    return batches


class Poisonable(nn.Module):
    """A model whose logits turn NaN for batches marked ``poison``: a non-finite step on demand."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask=None, poison=None):
        outputs = self.inner(input_ids, attention_mask)
        if poison is not None:
            outputs.logits = outputs.logits * float("nan")
        return outputs


def test_a_non_finite_step_is_skipped_counted_and_changes_nothing(corpus):
    model = Poisonable(classifier(corpus, dropout=0.0, collapse_strategy="argmax"))
    recorder = Recorder()
    trainer = trainer_for(corpus, {"log_every_n_steps": 1, "superposition_schedule": {"name": "constant", "value": 0.0}},
                          model=model, plugins=[recorder])
    batches = poisoned_loader(corpus, {2})
    trainer.train_epoch(batches[:2])
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer_state = {k: [t.clone() for t in v.values() if torch.is_tensor(t)]
                       for k, v in trainer.optimizer.state.items()}
    metrics = trainer.train_epoch(batches[2:3])
    assert metrics["nonfinite_steps"] == 1
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    for key, values in trainer.optimizer.state.items():
        assert all(torch.equal(a, b) for a, b in zip(optimizer_state[key], [t for t in values.values()
                                                                            if torch.is_tensor(t)]))
    assert recorder.events[-1][2]["nonfinite_steps"] == 1
    trainer.train_epoch(batches[:2])  # training goes on
    assert not all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_too_many_non_finite_steps_in_a_row_raise_naming_the_step_and_checkpoint(corpus, tmp_path):
    model = Poisonable(classifier(corpus))
    trainer = trainer_for(corpus, {"max_nonfinite_steps": 3, "log_every_n_steps": 100}, model=model)
    batches = poisoned_loader(corpus, {2, 3, 4})
    trainer.save_checkpoint(tmp_path / "good.pth")
    with pytest.raises(TrainingDivergedError, match=r"3 optimizer steps in a row up to step 5 .* last good "
                                                    r"checkpoint: .*good.pth"):
        trainer.train_epoch(batches)
    fine = trainer_for(corpus, {"max_nonfinite_steps": 4}, model=Poisonable(classifier(corpus)))
    assert fine.train_epoch(poisoned_loader(corpus, {2, 3, 4}))["nonfinite_steps"] == 3


def test_quantum_parallel_draws_the_collapse_samples_in_one_forward(corpus):
    mutual_information = {"name": "uncertainty", "uncertainty_type": "mutual_information", "mc_samples": 3,
                          "uncertainty_weight": 1.0}
    train, _, _ = corpus.loaders(batch_size=16, shuffle=False)
    batch = next(iter(train))
    calls, results = [], []
    for parallel in (False, True):
        model = classifier(corpus, dropout=0.0, collapse_strategy="argmax")
        model.register_forward_hook(lambda module, args, kwargs, output: calls.append(kwargs["input_ids"].shape[0]),
                                    with_kwargs=True)
        trainer = trainer_for(corpus, {"quantum_parallel": parallel,
                                       "superposition_schedule": {"name": "constant", "value": 0.0}},
                              model=model, loss_fn=mutual_information)
        outputs, _, terms = trainer.forward_step(batch)
        assert outputs.sample_logits.shape == (3, 16, corpus.num_labels) and outputs.logits.shape == (16, 8)
        results.append((outputs.logits, terms.total))
    assert calls == [16, 16, 16, 48]  # three forwards, or one of the batch repeated three times
    # nothing random here (no dropout, no collapse): both ways give the same loss
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-5)
    sampled = trainer_for(corpus, {"quantum_parallel": True, "superposition_schedule": {"name": "constant",
                                                                                          "value": 1.0}},
                          model=classifier(corpus, collapse_strategy="sample"), loss_fn=mutual_information)
    logits = sampled.forward_step(batch)[0].sample_logits
    assert not torch.equal(logits[0], logits[1])  # each copy collapses on its own


def test_collapse_optimization_sequential_switches_every_quantum_embeddings(corpus):
    trainer = trainer_for(corpus, {"collapse_optimization": "sequential"})
    assert trainer.model.encoder.embeddings.sequential
    train, _, _ = corpus.loaders(batch_size=16)
    assert trainer.train_epoch(train)["loss"] > 0
    with pytest.raises(ConfigError, match="'collapse_optimization'] is set but the model has no QuantumEmbeddings"):
        QuantumTrainer(nn.Linear(2, 2), "sgd", "cross_entropy", {"collapse_optimization": "sequential"})


def test_quantum_memory_efficient_switches_every_entanglement_layer(corpus):
    trainer = trainer_for(corpus, {"quantum_memory_efficient": True})
    layer = trainer.model.encoder.entanglement
    assert layer.memory_efficient and layer.mode_for(24) == "dense"
    train, val, _ = corpus.loaders(batch_size=16)
    history = trainer.train(train, val, num_epochs=1)
    assert 0 < history["entanglement_strength"][0] < 1 and trainer.last_outputs.pair_entanglement.shape[-1] == 1
    with pytest.raises(ConfigError, match="'quantum_memory_efficient'] is set but the model has no EntanglementLayer"):
        QuantumTrainer(nn.Linear(2, 2), "sgd", "cross_entropy", {"quantum_memory_efficient": True})


def test_entanglement_optimization_sets_the_mode_of_every_entanglement_layer(corpus):
    trainer = trainer_for(corpus, {"entanglement_optimization": "sparse"})
    assert trainer.model.encoder.entanglement.mode == "sparse"
    train, _, _ = corpus.loaders(batch_size=16)
    trainer.train_epoch(train)
    length = trainer.last_outputs.attention_mask.shape[1]
    assert trainer.last_outputs.pair_entanglement.shape[-1] == min(16, length - 1)  # top-k partners, not all T
    with pytest.raises(ConfigError, match="'entanglement_optimization'] is set but the model has no EntanglementLayer"):
        QuantumTrainer(nn.Linear(2, 2), "sgd", "cross_entropy", {"entanglement_optimization": "dense"})


def test_a_bad_key_leaves_the_model_untouched(corpus):
    model = classifier(corpus)
    before = (type(model.encoder.embeddings.collapse), model.encoder.gradient_checkpointing,
              [p.requires_grad for p in model.parameters()])
    for config, optimizer in (({"collapse_strategy": "argmax", "gradient_checkpointing": True,
                                "entanglement_training": False}, "adamm"),
                              ({"collapse_strategy": "argmax", "quantum_parallel": True,
                                "uncertainty_samples": 1}, "adamw")):
        with pytest.raises(ConfigError):
            QuantumTrainer(model, optimizer, "cross_entropy", config, progress_bar=False)
        after = (type(model.encoder.embeddings.collapse), model.encoder.gradient_checkpointing,
                 [p.requires_grad for p in model.parameters()])
        assert after == before


@pytest.mark.parametrize("value", [float("nan"), 1.5, -0.5, float("inf"), "0.5", None])
def test_a_schedule_value_outside_0_1_is_refused_naming_the_schedule_before_any_module_changes(corpus, value):
    trainer = trainer_for(corpus, {"superposition_schedule": lambda step, total: value})
    layer = trainer.model.encoder.embeddings
    before = layer.collapse_probability.clone()
    with pytest.raises(ValueError, match=r"superposition schedule <lambda> returned .* at step 0 of \d+; a schedule "
                                         r"must return a number in \[0, 1\]"):
        trainer.train_epoch(corpus.loaders(batch_size=16)[0])
    assert torch.equal(layer.collapse_probability, before) and trainer.training_history == {}


def test_skipped_steps_never_shrink_the_gradients_of_the_good_ones(corpus):
    model = Poisonable(classifier(corpus, dropout=0.0))
    trainer = trainer_for(corpus, {"max_nonfinite_steps": 3, "log_every_n_steps": 100}, model=model)
    batches = poisoned_loader(corpus, {0, 2, 4})  # every other step is bad: never 3 in a row
    for _ in range(10):  # 30 skipped steps: a scale halved each time would be 2**-30 by now
        metrics = trainer.train_epoch(batches[:6])
        assert metrics["nonfinite_steps"] == 3 and math.isfinite(metrics["loss"])
    assert trainer.scaler.get_scale() == 1.0


def test_an_epoch_without_a_finite_step_is_nan_and_never_the_best(corpus, tmp_path):
    model = Poisonable(classifier(corpus))
    trainer = trainer_for(corpus, {"max_nonfinite_steps": 100}, model=model)
    good, bad = corpus.loaders(batch_size=16, shuffle=False)[0], poisoned_loader(corpus, {0, 1, 2, 3, 4})[:5]
    trainer.train(good, num_epochs=1, checkpoint_dir=tmp_path)
    [best] = tmp_path.glob("epoch=0-*.pth")
    kept = best.read_bytes()
    trainer.train(bad, num_epochs=2, checkpoint_dir=tmp_path)
    assert math.isnan(trainer.training_history["train_loss"][-1])
    assert list(tmp_path.glob("epoch=*.pth")) == [best] and best.read_bytes() == kept  # no NaN epoch is kept


def test_a_failing_lifecycle_hook_is_named_with_its_plugin(corpus):
    class Broken:
        @hookimpl
        def qembed_on_epoch_end(self, trainer, epoch, metrics):
            raise RuntimeError("disk quota")

    trainer = trainer_for(corpus, plugins=[Broken()])
    with pytest.raises(PluginHookError, match=r"qembed_on_epoch_end of plugin '.*Broken.*' registered in code raised "
                                              r"RuntimeError: disk quota"):
        trainer.train(corpus.loaders(batch_size=16)[0], num_epochs=1)


class OwnCrossEntropy:
    """A loss registered for one trainer only."""

    @hookimpl
    def qembed_register_losses(self):
        return {"my_ce": lambda: nn.CrossEntropyLoss(ignore_index=-100)}


def test_a_trainer_scoped_loss_is_found_by_name_nested_in_another_loss(corpus):
    spec = {"name": "quantum", "base_loss": "my_ce"}
    trainer = trainer_for(corpus, loss_fn=spec, plugins=[OwnCrossEntropy()])
    assert isinstance(trainer.loss_fn.base_loss, nn.CrossEntropyLoss)
    assert trainer.registry.registration_of("losses", trainer.loss_fn.base_loss).name == "my_ce"
    with pytest.raises(ConfigError, match="unknown loss 'my_ce'"):  # other trainers do not see it
        trainer_for(corpus, loss_fn=spec)


def test_each_trainer_with_a_log_dir_has_its_own_tensorboard_logger_and_one_without_none(corpus, tmp_path):
    from qembed_plugins.tensorboard import TensorBoardLogger

    first, second = (trainer_for(corpus, log_dir=tmp_path / name) for name in ("a", "b"))
    assert [type(logger) for logger in first.loggers] == [type(logger) for logger in second.loggers] == [
        TensorBoardLogger]
    assert first.loggers[0] is not second.loggers[0]
    assert trainer_for(corpus).loggers == [] and trainer_for(corpus, log_dir=tmp_path / "c", loggers=[]).loggers == []


