"""torch.compile: a compiled model trains through QuantumTrainer, in one graph, without
recompiling per batch shape or collapse probability, and its checkpoints are plain."""

from __future__ import annotations

import copy

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from qembed.models import ClassicalClassifier, QuantumClassifier, QuantumMaskedLM
from qembed.training import QuantumTrainer
from qembed.training.config import ConfigError

VOCAB, LABELS = 30, 3
TINY = {"embedding_dim": 16, "num_layers": 1, "num_heads": 2, "dropout": 0.0}
QUIET = {"progress_bar": False, "epoch_table": False}
CONFIG = {"superposition_schedule": "linear", "uncertainty_samples": 0, "log_every_n_steps": 1}


def batch(size: int, length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, length // 2:] = 0
    return {"input_ids": torch.randint(0, VOCAB, (size, length), generator=generator), "attention_mask": mask,
            "labels": torch.randint(0, LABELS, (size,), generator=generator)}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_a_users_compiled_model_trains_and_saves_plain_weights(tmp_path):
    model = QuantumClassifier(VOCAB, LABELS, **TINY)
    counter = CompileCounter()
    trainer = QuantumTrainer(torch.compile(model, backend=counter), "adamw", "quantum", CONFIG, **QUIET)
    assert trainer.model is model  # the plain module: its own signature, state_dict keys
    history = trainer.train([batch(4, 8, seed) for seed in range(3)], num_epochs=1)
    assert counter.frame_count == 1 and history["train_loss"][0] > 0
    saved = trainer.save_model(tmp_path / "model.pth")
    plain = QuantumClassifier(VOCAB, LABELS, **TINY)
    QuantumTrainer(plain, None, **QUIET).load_model(saved)
    assert not any(key.startswith("_orig_mod") for key in plain.state_dict())
    assert torch.equal(plain.head.weight, model.head.weight)


def test_a_compiled_run_resumes_eagerly_from_its_checkpoint(tmp_path):
    batches = [batch(4, 8, seed) for seed in range(2)]
    compiled = QuantumTrainer(QuantumClassifier(VOCAB, LABELS, **TINY), "adamw", "quantum", CONFIG, seed=0,
                              compile={"backend": "eager"}, **QUIET)
    compiled.train(batches, num_epochs=1, checkpoint_dir=tmp_path)
    eager = QuantumTrainer(QuantumClassifier(VOCAB, LABELS, **TINY), "adamw", "quantum", CONFIG, seed=0, **QUIET)
    history = eager.train(batches, num_epochs=2, resume_from=tmp_path / "last.pth")
    assert eager.global_step == 4 and len(history["train_loss"]) == 2


def test_no_recompile_per_batch_size_length_or_collapse_probability():
    counter = CompileCounter()
    trainer = QuantumTrainer(QuantumClassifier(VOCAB, LABELS, **TINY), "adamw", "quantum", CONFIG,
                             compile={"backend": counter}, **QUIET)
    shapes = [(8, 10), (8, 14), (5, 10), (8, 7), (3, 20)]  # a last smaller batch, other padded lengths
    trainer.train([batch(*shape, seed) for seed, shape in enumerate(shapes)], num_epochs=2)  # p_c 0 -> 0.9
    assert counter.frame_count == 1
    trainer.validate([batch(4, 9), batch(2, 11)])
    assert counter.frame_count == 2  # evaluation mode: one more graph, for every batch


@pytest.mark.parametrize("make, labels", [
    (lambda: QuantumClassifier(VOCAB, LABELS, **TINY), lambda ids: torch.randint(0, LABELS, (ids.shape[0],))),
    (lambda: QuantumClassifier(VOCAB, LABELS, entanglement="sparse", top_k=3, **TINY),
     lambda ids: torch.randint(0, LABELS, (ids.shape[0],))),
    (lambda: QuantumMaskedLM(VOCAB, **TINY), lambda ids: torch.where(ids % 3 == 0, ids, -100)),
    (lambda: ClassicalClassifier(VOCAB, LABELS, **TINY), lambda ids: torch.randint(0, LABELS, (ids.shape[0],))),
], ids=["QuantumClassifier", "QuantumClassifier-sparse", "QuantumMaskedLM", "ClassicalClassifier"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_every_model_compiles_to_one_graph(make, labels, training):
    model = make().train(training)
    inputs = batch(4, 8)

    def forward_and_loss(input_ids, attention_mask, labels):
        return model(input_ids, attention_mask, labels=labels).loss

    explained = torch._dynamo.explain(forward_and_loss)(inputs["input_ids"], inputs["attention_mask"],
                                                       labels(inputs["input_ids"]))
    assert explained.graph_break_count == 0, [reason.reason for reason in explained.break_reasons]
    assert explained.graph_count == 1


def test_compiled_token_checks_keep_their_meaning():
    model = QuantumClassifier(VOCAB, LABELS, **TINY).eval()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    ids = torch.full((2, 5), VOCAB)
    with pytest.raises(ValueError, match=f"input_ids holds token id {VOCAB}, outside the vocabulary"):
        model(ids)  # eager: the id named
    with pytest.raises(RuntimeError, match="input_ids holds a token id outside the vocabulary"):
        compiled(ids)


@pytest.mark.parametrize("value, message", [
    ({"mode": "fast"}, "compile\\['mode'\\] must be one of default, reduce-overhead"),
    ({"mod": "default"}, "compile has no option 'mod' \\(did you mean 'mode'\\?\\)"),
    ({"backend": "inductr"}, "'inductr' is not a torch.compile backend \\(did you mean 'inductor'"),
    ({"fullgraph": "yes"}, "compile\\['fullgraph'\\] must be true or false"),
    ({"dynamic": "auto"}, "compile\\['dynamic'\\] must be true, false or none"),
    ("yes", "compile must be true, false or a mapping"),
])
def test_bad_compile_options_are_refused(value, message):
    model = QuantumClassifier(VOCAB, LABELS, **TINY)
    with pytest.raises(ConfigError, match=message):
        QuantumTrainer(model, "adamw", compile=value, **QUIET)


def test_compiling_a_compiled_model_is_refused():
    with pytest.raises(ConfigError, match="compiled already"):
        QuantumTrainer(torch.compile(QuantumClassifier(VOCAB, LABELS, **TINY)), "adamw", compile=True, **QUIET)


@pytest.mark.slow
def test_inductor_training_agrees_with_eager():
    """Dropout on: the trainer's compile draws dropout masks and collapses as eager does (fallback_random)."""
    model = QuantumClassifier(VOCAB, LABELS, embedding_dim=16, num_layers=1, num_heads=2, dropout=0.1)
    batches = [batch(8, 10, seed) for seed in range(3)]
    trained = {}
    for compile_ in (False, True):
        copy_ = copy.deepcopy(model)
        trainer = QuantumTrainer(copy_, "adamw", "quantum", CONFIG, seed=0, compile=compile_, **QUIET)
        trained[compile_] = (trainer.train(batches, num_epochs=1)["train_loss"][0], copy_)
    assert trained[True][0] == pytest.approx(trained[False][0], rel=1e-4)
    for eager, compiled in zip(trained[False][1].parameters(), trained[True][1].parameters()):
        torch.testing.assert_close(compiled, eager, rtol=1e-3, atol=1e-3)


def test_the_run_config_key_is_checked():
    from qembed.cli.run_schema import TrainingSection

    assert TrainingSection(compile={"mode": "max-autotune"}).compile == {"mode": "max-autotune"}
    with pytest.raises(ConfigError, match="compile has no option 'dynamc' \\(did you mean 'dynamic'\\?\\)"):
        TrainingSection(compile={"dynamc": True})


@pytest.mark.parametrize("options", [{}, {"mode": "max-autotune", "dynamic": False}, {"backend": "aot_eager"},
                                     {"backend": "aot_eager", "mode": "default"}])
def test_every_compile_option_set_builds(options):
    """torch.compile takes a mode or inductor options, not both: a mode is passed as the options it stands for."""
    from qembed.training.compilation import compile_module

    compiled = compile_module(QuantumClassifier(VOCAB, LABELS, **TINY), options)
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)
