"""Hugging Face integration against the real transformers: TrainingArguments mapped onto
QuantumTrainer, qembed inside HF's own Trainer, and a BERT with QuantumEmbeddings."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
    get_scheduler,
)

from qembed import plugins
from qembed.data import PolysemyCorpus, pad_collate
from qembed.integrations.hf import (
    MAPPED,
    QuantumCallback,
    QuantumHFTrainer,
    QuantumInputEmbeddings,
    UnusedTrainingArgumentWarning,
    quantum_compute_loss,
    with_quantum_embeddings,
)
from qembed.training import ConfigError, QuantumTrainer
from qembed.training.losses import QuantumLoss
from tests.conftest import REPO_ROOT
from tests.host_reads import host_reads_refused

pytestmark = pytest.mark.integration

# The seed's "Hugging Face Transformers" snippet, verbatim.
SEED_SNIPPET = '''
from transformers import TrainingArguments, Trainer
from qembed.training import QuantumTrainer

# Use quantum trainer with HF training arguments
training_args = TrainingArguments(
    output_dir="./quantum-bert-finetuned",
    num_train_epochs=3,
    per_device_train_batch_size=8,
    per_device_eval_batch_size=8,
    warmup_steps=500,
    weight_decay=0.01,
    logging_dir="./logs",
)

# Combine with quantum trainer
quantum_trainer = QuantumTrainer(
    model=model,
    optimizer=optimizer,
    loss_fn=loss_fn,
    quantum_training_config=quantum_config
)
'''


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=64, num_val=32, num_test=4)


def tiny_bert(corpus: PolysemyCorpus, **options) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=corpus.num_labels,
                        pad_token_id=corpus.pad_id)
    return with_quantum_embeddings(BertForSequenceClassification(config), **options)


def scalar_tags(log_dir) -> dict[str, list[float]]:
    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [event.value for event in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_the_seeds_training_arguments_train_and_log_to_logs(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = tiny_bert(corpus)
    namespace = {"model": model, "optimizer": torch.optim.AdamW(model.parameters(), lr=1e-3),
                 "loss_fn": QuantumLoss(), "quantum_config": {"uncertainty_regularization": 0.1}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedTrainingArgumentWarning)  # every field the seed sets is honoured
        exec(compile(SEED_SNIPPET, "<seed snippet>", "exec"), namespace)
        trainer = QuantumTrainer.from_training_arguments(
            namespace["training_args"], model, loss_fn="quantum",
            quantum_training_config={"uncertainty_regularization": 0.1},
            train_dataset=corpus.train, eval_dataset=corpus.val, data_collator=pad_collate)
    assert isinstance(namespace["quantum_trainer"], QuantumTrainer)
    history = trainer.train()

    assert history["epoch"] == [0, 1, 2] and len(history["val_accuracy"]) == 3
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.01
    steps = 3 * math.ceil(len(corpus.train) / 8)
    assert history["lr"][-1] == pytest.approx(5e-5 * steps / 500)  # still warming up, as in HF
    tags = scalar_tags(tmp_path / "logs")
    # logging_steps keeps HF's default of 500: in a 24-step run only the last step is logged per step
    assert {"epoch/train_loss", "epoch/uncertainty", "epoch/collapse_probability", "val/loss",
            "epoch/val_accuracy"} <= set(tags)
    assert {len(points) for tag, points in tags.items() if tag.startswith("train/")} == {1}
    assert tags["epoch/train_loss"] == pytest.approx(history["train_loss"])
    best, last = sorted(p.name for p in (tmp_path / "quantum-bert-finetuned").iterdir())
    assert last == "last.pth" and best.startswith("epoch=") and "-val_loss=" in best


def test_every_mapped_field_reaches_the_trainer(corpus, tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
        per_device_eval_batch_size=32, learning_rate=0.01, weight_decay=0.1, adam_beta1=0.8, adam_beta2=0.99,
        adam_epsilon=1e-6, lr_scheduler_type="cosine", warmup_ratio=0.25, max_grad_norm=0.5,
        gradient_accumulation_steps=2, logging_steps=1, seed=7, save_total_limit=1, logging_dir=str(tmp_path / "tb"),
        report_to=["tensorboard"], disable_tqdm=True, use_cpu=True, dataloader_drop_last=True)
    model = tiny_bert(corpus)
    trainer = QuantumTrainer.from_training_arguments(args, model, "quantum", train_dataset=corpus.train,
                                                     eval_dataset=corpus.val, data_collator=pad_collate)
    group = trainer.optimizer.param_groups[0]
    assert (group["initial_lr"], group["weight_decay"], group["betas"], group["eps"]) == (0.01, 0.1, (0.8, 0.99), 1e-6)
    config = trainer.config
    assert (config.gradient_accumulation_steps, config.log_every_n_steps) == (2, 1)
    assert config.clipping_spec() == {"name": "global_norm", "max_norm": 0.5}
    assert trainer.device.type == "cpu" and trainer.progress_bar is False
    defaults = trainer.run_defaults
    assert defaults.num_epochs == 2 and defaults.keep_best_checkpoint is False
    assert defaults.train_dataloader.batch_size == 16 and defaults.train_dataloader.drop_last
    assert defaults.val_dataloader.batch_size == 32

    trainer.train()
    steps = 2 * math.ceil((len(corpus.train) // 16) / 2)
    reference = get_scheduler("cosine", torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01),
                              num_warmup_steps=math.ceil(0.25 * steps), num_training_steps=steps)
    lrs = []
    for _ in range(steps):
        reference.optimizer.step()
        reference.step()
        lrs.append(reference.get_last_lr()[0])
    assert trainer.lr_scheduler.last_epoch == steps
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lrs[-1])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["last.pth"]  # save_total_limit=1
    assert len(scalar_tags(tmp_path / "tb")["train/loss"]) == steps  # logging_steps=1


def test_load_best_model_at_end_restores_the_best_epoch(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=3, per_device_train_batch_size=16,
                             learning_rate=0.05, eval_strategy="epoch", save_strategy="epoch",
                             load_best_model_at_end=True, save_total_limit=1, report_to=[], disable_tqdm=True)
    trainer = QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum", train_dataset=corpus.train,
                                                     eval_dataset=corpus.val, data_collator=pad_collate)
    history = trainer.train()
    best = min(range(3), key=history["val_loss"].__getitem__)
    assert trainer.validate(trainer.run_defaults.val_dataloader)["loss"] == pytest.approx(history["val_loss"][best])
    names = sorted(p.name for p in tmp_path.iterdir())  # HF keeps best and last too
    per_epoch = math.ceil(len(corpus.train) / 16)
    value = history["val_loss"][best]
    assert names == [f"epoch={best}-step={(best + 1) * per_epoch}-val_loss={value:.4f}.pth", "last.pth"]
    assert trainer.log_dir is None  # report_to=[]: no TensorBoard


def test_steps_fields_set_max_steps_step_validation_step_checkpoints_and_the_monitor(corpus, tmp_path):
    seen = []

    class Saved:
        @plugins.hookimpl
        def qembed_on_checkpoint(self, trainer, path):
            seen.append((trainer.global_step, os.path.basename(path)))

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=5, per_device_train_batch_size=16,
                             eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=0.5,
                             metric_for_best_model="accuracy", report_to=[], disable_tqdm=True, use_cpu=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedTrainingArgumentWarning)  # every steps field is honoured
        trainer = QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum",
                                                         train_dataset=corpus.train, eval_dataset=corpus.val,
                                                         data_collator=pad_collate, plugins=[Saved()])
    defaults = trainer.run_defaults
    assert (defaults.max_steps, defaults.val_check_interval, defaults.checkpoint_every_n_steps) == (5, 2, 3)
    assert (defaults.monitor, defaults.mode) == ("val_accuracy", "max")  # HF: greater_is_better for a non-loss
    trainer.train()
    assert trainer.global_step == 5 and trainer.lr_scheduler.last_epoch == 5
    assert (3, "last.pth") in seen and (5, "last.pth") in seen  # save_steps=0.5 of 5 steps, and the run's end
    assert trainer.best_checkpoint is not None and "-val_accuracy=" in trainer.best_checkpoint.name


def test_eval_strategy_steps_needs_an_eval_dataset(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), eval_strategy="steps", eval_steps=2)
    with pytest.raises(ConfigError, match="eval_strategy='steps' needs an eval_dataset"):
        QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum", train_dataset=corpus.train,
                                               data_collator=pad_collate)


def test_a_field_without_a_meaning_warns_by_name_and_the_rest_still_applies(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=0.1, report_to=["tensorboard"])
    with pytest.warns(UnusedTrainingArgumentWarning) as caught:
        QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum", train_dataset=corpus.train,
                                               eval_dataset=corpus.val, data_collator=pad_collate)
    messages = "\n".join(str(w.message) for w in caught)
    assert "label_smoothing_factor=0.1" in messages
    assert list(tmp_path.iterdir()) == []  # nothing written before train()


@pytest.mark.parametrize(("fields", "config", "optimizer", "message"), [
    ({"num_train_epochs": 2.5}, None, "quantum", "num_train_epochs=2.5"),
    ({"gradient_accumulation_steps": 2}, {"gradient_accumulation_steps": 4}, "quantum",
     "gradient_accumulation_steps=2 but quantum_training_config\\['gradient_accumulation_steps'\\] is 4"),
    ({"max_grad_norm": 0.5}, {"quantum_gradient_clipping": True}, "quantum", "both set gradient clipping"),
    ({"logging_steps": 5}, {"log_every_n_steps": 2}, "quantum", "both set the logging interval"),
    ({"learning_rate": 0.01}, None, {"name": "quantum", "lr": 0.1},
     "learning_rate=0.01 but the optimizer spec\\['lr'\\] is 0.1"),
    ({"load_best_model_at_end": True, "eval_strategy": "epoch", "save_strategy": "epoch",
      "metric_for_best_model": "bleu"}, None, "quantum", "metric_for_best_model='bleu': monitor='val_bleu'"),
    ({}, {"superposition_shedule": "linear"}, "quantum", "unknown key 'superposition_shedule'"),
])
def test_contradictions_and_unsupported_values_are_named_before_anything_is_built(
        corpus, tmp_path, fields, config, optimizer, message):
    args = TrainingArguments(output_dir=str(tmp_path / "out"), logging_dir=str(tmp_path / "logs"), **fields)
    model = tiny_bert(corpus)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match=message):
        QuantumTrainer.from_training_arguments(args, model, "quantum", config, train_dataset=corpus.train,
                                               eval_dataset=corpus.val, data_collator=pad_collate,
                                               optimizer=optimizer)
    assert list(tmp_path.iterdir()) == []
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_datasets_must_be_map_style_datasets(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path))
    loader, _, _ = corpus.loaders(batch_size=8)
    with pytest.raises(TypeError, match="train_dataset must be a torch Dataset"):
        QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum", train_dataset=loader)
    with pytest.raises(ValueError, match="train_dataset is required"):
        QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum")


def test_training_arguments_without_an_optimizer_point_to_an_evaluation_trainer(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match=r"optimizer=None: .*QuantumTrainer\(model, optimizer=None\)"):
        QuantumTrainer.from_training_arguments(args, tiny_bert(corpus), "quantum", train_dataset=corpus.train,
                                               optimizer=None)
    assert not (tmp_path / "out").exists()


def test_a_bert_with_quantum_embeddings_learns_with_quantum_trainer(corpus):
    model = tiny_bert(corpus)
    layer = model.get_input_embeddings()
    assert isinstance(layer, QuantumInputEmbeddings) and model.bert.embeddings.word_embeddings is layer
    train, val, _ = PolysemyCorpus(seed=0, num_train=256, num_val=64, num_test=4).loaders(batch_size=16)
    trainer = QuantumTrainer(model, {"name": "quantum", "lr": 3e-3}, "quantum",
                             {"uncertainty_regularization": 0.1, "log_every_n_steps": 4}, progress_bar=False)
    before = trainer.validate(val)
    history = trainer.train(train, val, num_epochs=4)
    assert history["collapse_probability"] == sorted(history["collapse_probability"])
    assert layer.collapse_probability.item() == trainer.collapse_probability  # it reached the layer inside
    assert 0 < history["uncertainty"][-1] < 1 and history["quantum_loss"][-1] > 0  # the measures reach the loss
    assert history["val_loss"][-1] < before["loss"] - 0.1
    assert history["val_accuracy"][-1] > before["accuracy"]


def test_padding_neither_collapses_nor_counts(corpus):
    model = tiny_bert(corpus).eval()
    batch = pad_collate([corpus.train[0], corpus.train[1]], pad_id=corpus.pad_id)
    assert not batch["attention_mask"].all()  # the batch has pads
    short = min(range(2), key=lambda i: int(batch["attention_mask"][i].sum()))
    length = int(batch["attention_mask"][short].sum())
    with torch.no_grad():
        padded = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        alone = model(input_ids=batch["input_ids"][short:short + 1, :length])
    assert padded.uncertainty[short].item() == pytest.approx(alone.uncertainty[0].item(), abs=1e-6)
    assert padded.logits[short].tolist() == pytest.approx(alone.logits[0].tolist(), abs=1e-5)


def test_hfs_own_trainer_gets_the_schedule_the_loss_and_the_metrics_in_every_logger(corpus, tmp_path):
    model = tiny_bert(corpus)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
                             learning_rate=3e-3, logging_steps=2, logging_dir=str(tmp_path / "tb"),
                             report_to=["tensorboard"], save_strategy="no", disable_tqdm=True, use_cpu=True)
    trainer = QuantumHFTrainer(model=model, args=args, train_dataset=corpus.train, data_collator=pad_collate,
                               quantum_loss={"name": "quantum", "uncertainty_weight": 0.1},
                               schedule={"name": "cyclic", "num_cycles": 1}, uncertainty_regularization=0.1)
    assert trainer.callback_handler.callbacks[0] is trainer.quantum_callback
    trainer.train()
    logged = [row for row in trainer.state.log_history if "loss" in row]
    assert len(logged) == trainer.state.max_steps // 2
    probabilities = [row["collapse_probability"] for row in logged]
    cyclic = plugins.create("schedules", {"name": "cyclic", "num_cycles": 1})  # each step's value, applied before it
    assert probabilities == pytest.approx([cyclic(row["step"] - 1, trainer.state.max_steps) for row in logged])
    assert probabilities[0] < max(probabilities) > probabilities[-1]  # one cycle: up, then down
    assert all(0 < row["uncertainty"] < 1 and 0 < row["superposition_coherence"] <= 1 for row in logged)
    tags = scalar_tags(tmp_path / "tb")
    assert tags["train/collapse_probability"] == pytest.approx(probabilities)  # HF's TensorBoard got them
    assert tags["train/uncertainty"] == pytest.approx([row["uncertainty"] for row in logged])


def test_a_plain_trainer_with_the_callback_and_compute_loss_func(corpus, tmp_path):
    model = tiny_bert(corpus)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=6, per_device_train_batch_size=16,
                             logging_steps=3, report_to=[], save_strategy="no", disable_tqdm=True, use_cpu=True)
    callback = QuantumCallback("linear")
    trainer = Trainer(model=model, args=args, train_dataset=corpus.train, data_collator=pad_collate,
                      compute_loss_func=quantum_compute_loss("uncertainty"), callbacks=[callback])
    trainer.train()
    logged = [row for row in trainer.state.log_history if "loss" in row]
    assert [row["collapse_probability"] for row in logged] == pytest.approx([2 / 5, 1.0])
    assert model.get_input_embeddings().collapse_probability.item() == 1.0


def one_hf_step(corpus, tmp_path, batch_size: int, accumulate: int) -> tuple[dict, dict[str, torch.Tensor]]:
    """One SGD step of HF's Trainer (no dropout, no collapse: deterministic): its log and
    how far it moved every weight."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=corpus.num_labels,
                        pad_token_id=corpus.pad_id, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = with_quantum_embeddings(BertForSequenceClassification(config))
    before = {key: value.detach().clone() for key, value in model.state_dict().items()}
    args = TrainingArguments(output_dir=str(tmp_path / f"{batch_size}x{accumulate}"), max_steps=1, logging_steps=1,
                             per_device_train_batch_size=batch_size, gradient_accumulation_steps=accumulate,
                             max_grad_norm=0.0, report_to=[], save_strategy="no", disable_tqdm=True, use_cpu=True)
    trainer = QuantumHFTrainer(model=model, args=args, train_dataset=corpus.train, data_collator=pad_collate,
                               optimizers=(torch.optim.SGD(model.parameters(), lr=0.5), None),
                               schedule={"name": "constant", "value": 0.0}, uncertainty_regularization=0.1)
    trainer.train()
    (log,) = [row for row in trainer.state.log_history if "loss" in row]
    return log, {key: value.detach() - before[key] for key, value in model.state_dict().items()}


def test_a_gradient_accumulation_window_trains_and_logs_as_one_batch_of_its_size(corpus, tmp_path):
    whole_log, whole_update = one_hf_step(corpus, tmp_path, batch_size=16, accumulate=1)
    window_log, window_update = one_hf_step(corpus, tmp_path, batch_size=4, accumulate=4)
    for name in ("loss", "uncertainty", "superposition_coherence"):  # every micro-batch measured, none counted 4x
        assert window_log[name] == pytest.approx(whole_log[name], rel=1e-4), name
    assert whole_update["classifier.weight"].abs().max() > 1e-3  # the step moved the weights
    for key, update in whole_update.items():  # by the same amount (padding differs: up to rounding)
        assert torch.allclose(window_update[key], update, rtol=1e-3, atol=1e-6), key


class SyncFreeCallback(QuantumCallback):
    """Fails a step whose callback hooks read a tensor's value on the host (a device sync on GPU)."""

    def on_step_begin(self, *args, **kwargs) -> None:
        with host_reads_refused():
            super().on_step_begin(*args, **kwargs)

    def on_substep_end(self, *args, **kwargs) -> None:
        with host_reads_refused():
            super().on_substep_end(*args, **kwargs)

    def on_step_end(self, *args, **kwargs) -> None:
        with host_reads_refused():
            super().on_step_end(*args, **kwargs)


def test_the_callback_reads_the_device_once_per_log_only(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, per_device_train_batch_size=8,
                             gradient_accumulation_steps=2, logging_steps=2, report_to=[], save_strategy="no",
                             disable_tqdm=True, use_cpu=True)
    trainer = Trainer(model=tiny_bert(corpus), args=args, train_dataset=corpus.train, data_collator=pad_collate,
                      compute_loss_func=quantum_compute_loss())
    SyncFreeCallback().add_to(trainer)
    trainer.train()
    logged = [row for row in trainer.state.log_history if "loss" in row]
    assert len(logged) == 2 and all(0 < row["uncertainty"] < 1 for row in logged)


def test_label_smoothing_the_quantum_loss_would_skip_is_refused(corpus, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path / "out"), label_smoothing_factor=0.1, report_to=[])
    with pytest.raises(ValueError, match="label_smoothing_factor=0.1 is not applied to quantum_loss.*'label_smoothing'"):
        QuantumHFTrainer(tiny_bert(corpus), args, train_dataset=corpus.train, data_collator=pad_collate)
    assert not (tmp_path / "out").exists()


def test_a_bfloat16_model_gets_bfloat16_quantum_embeddings_and_runs(corpus):
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=corpus.num_labels, pad_token_id=corpus.pad_id)
    model = with_quantum_embeddings(BertForSequenceClassification(config).to(torch.bfloat16))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    batch = pad_collate([corpus.train[i] for i in range(4)], pad_id=corpus.pad_id)
    outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    quantum_compute_loss()(outputs, batch["labels"]).backward()
    assert outputs.logits.dtype == torch.bfloat16 and bool(torch.isfinite(outputs.uncertainty).all())


def test_a_forward_without_the_layer_leaves_no_stale_measures(corpus):
    model = tiny_bert(corpus)
    layer = model.get_input_embeddings()
    batch = pad_collate([corpus.train[i] for i in range(2)], pad_id=corpus.pad_id)
    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert set(layer.last_measures) == {"uncertainty", "predictive_entropy", "sense_entropy", "superposition"}
    outputs = model(inputs_embeds=torch.randn(2, 3, 32))
    assert layer.last_measures == {} and "uncertainty" not in outputs


def test_the_compute_loss_is_the_qembed_loss_plus_the_uncertainty_penalty(corpus):
    model = tiny_bert(corpus)
    batch = pad_collate([corpus.train[i] for i in range(4)], pad_id=corpus.pad_id)
    labels = batch.pop("labels")
    batch.pop("sense_ids", None)
    outputs = model(**batch)
    expected = QuantumLoss()(outputs, labels) + 0.3 * outputs.uncertainty.mean()
    assert quantum_compute_loss("quantum", 0.3)(outputs, labels).item() == pytest.approx(expected.item())
    share = quantum_compute_loss("quantum", 0.3)(outputs, labels, num_items_in_batch=torch.tensor(10))
    assert share.item() == pytest.approx(expected.item() * 4 / 10)  # this batch's 4 of the window's 10 targets
    with pytest.raises(ConfigError, match="loss_fn: .*'focal'"):
        quantum_compute_loss("focal")
    with pytest.raises(ConfigError, match="draws 4 collapse samples"):
        quantum_compute_loss({"name": "uncertainty", "uncertainty_type": "mutual_information", "mc_samples": 4})


def test_the_callback_needs_a_model_with_quantum_embeddings(corpus, tmp_path):
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=corpus.num_labels)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1, report_to=[], use_cpu=True)
    trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=corpus.train,
                      data_collator=pad_collate, callbacks=[QuantumCallback()])
    with pytest.raises(ValueError, match="has no collapse-aware module .*with_quantum_embeddings"):
        trainer.train()
    with pytest.raises(ConfigError, match="schedule: .*'cosine_ramp'|schedule: .*cosine"):
        QuantumCallback("cosine")


def test_with_quantum_embeddings_refuses_what_it_cannot_hold(corpus):
    tied = BertForMaskedLM(BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=64))
    with pytest.raises(ValueError, match="tie_word_embeddings=False"):
        with_quantum_embeddings(tied)
    with pytest.raises(TypeError, match="needs a Transformers PreTrainedModel"):
        with_quantum_embeddings(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="already has QuantumInputEmbeddings"):
        with_quantum_embeddings(tiny_bert(corpus))


def test_every_mapped_field_is_documented():
    docs = (REPO_ROOT / "docs" / "integrations.md").read_text()
    missing = [name for name in MAPPED if f"`{name}`" not in docs]
    assert not missing, f"docs/integrations.md does not mention {missing}"


@pytest.mark.slow
def test_the_example_runs(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "hf_integration.py"), "--smoke",
                             "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert "QuantumTrainer" in result.stdout and "HF Trainer" in result.stdout
