"""QuantumClassifier and QuantumMaskedLM: outputs, bad input, gradient checkpointing."""

from __future__ import annotations

import inspect

import pytest
import torch

from qembed.models import ClassicalClassifier, QuantumClassifier, QuantumEncoder, QuantumMaskedLM
from qembed.nn import QuantumOutput, set_collapse_probability


def inputs(vocab=50, size=4, length=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (size, length), generator=generator)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[1, 6:] = 0
    return ids, mask


@pytest.mark.parametrize("entanglement", ["dense", "sparse"])
def test_classifier_returns_logits_measures_and_loss(entanglement):
    torch.manual_seed(0)
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2, entanglement=entanglement)
    ids, mask = inputs()
    out = model(ids, mask, labels=torch.tensor([0, 1, 2, 0]))
    assert isinstance(out, QuantumOutput)
    assert out.logits.shape == (4, 3) and out.loss.ndim == 0
    for field in (out.uncertainty, out.superposition, out.entanglement):
        assert field.shape == (4,) and ((field >= 0) & (field <= 1)).all()
    assert out.sense_weights.shape == (4, 10, 4)


def test_masked_lm_returns_token_logits_and_loss_over_masked_positions_only():
    torch.manual_seed(0)
    model = QuantumMaskedLM(50, embedding_dim=16, num_heads=2)
    ids, mask = inputs()
    labels = torch.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    out = model(ids, mask, labels=labels)
    assert out.logits.shape == (4, 10, 50)
    expected = torch.nn.functional.cross_entropy(out.logits[:, 2], ids[:, 2])
    assert torch.allclose(out.loss, expected)


def test_padding_does_not_change_a_sequences_prediction_in_eval():
    torch.manual_seed(0)
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2).eval()
    ids, mask = inputs()
    short = model(ids[1:2, :6], mask[1:2, :6]).logits
    padded = model(ids[1:2], mask[1:2]).logits
    assert torch.allclose(short, padded, atol=1e-5)


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda ids, mask: (ids.float(), mask), TypeError, "integer token ids"),
        (lambda ids, mask: (ids.masked_fill(ids == ids[0, 0], 50), mask), ValueError,
         r"token id 50, outside the vocabulary \(vocab_size=50\)"),
        (lambda ids, mask: (ids.masked_fill(ids == ids[0, 0], -3), mask), ValueError, "token id -3"),
        (lambda ids, mask: (torch.cat([ids] * 7, dim=1), torch.cat([mask] * 7, dim=1)), ValueError,
         "sequence length 70 exceeds the model's max_length=64"),
        (lambda ids, mask: (ids, mask[:, :5]), ValueError, r"attention_mask has shape \(4, 5\)"),
    ],
)
@pytest.mark.parametrize("model_class", [QuantumClassifier, QuantumMaskedLM])
def test_bad_input_fails_fast_naming_the_problem(mutate, error, message, model_class):
    args = (50, 3) if model_class is QuantumClassifier else (50,)
    model = model_class(*args, embedding_dim=16, num_heads=2, max_length=64)
    ids, mask = mutate(*inputs())
    with pytest.raises(error, match=message):
        model(ids, mask)


def test_bad_constructor_arguments_name_the_argument():
    with pytest.raises(ValueError, match="num_labels"):
        QuantumClassifier(50, 1)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        QuantumClassifier(50, 2, embedding_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="entanglement must be one of"):
        QuantumClassifier(50, 2, entanglement="dens")


@pytest.mark.parametrize("model_class", [QuantumClassifier, QuantumMaskedLM])
def test_gradient_checkpointing_gives_the_same_gradients(model_class):
    """Dropout and collapse sampling repeat exactly in the recomputation."""
    args = (50, 3) if model_class is QuantumClassifier else (50,)
    torch.manual_seed(0)
    model = model_class(*args, embedding_dim=16, num_heads=2, dropout=0.2, collapse_strategy="sample")
    set_collapse_probability(model, 0.5)
    ids, mask = inputs()
    labels = torch.tensor([0, 1, 2, 0]) if model_class is QuantumClassifier else ids
    gradients = []
    for enabled in (False, True):
        model.zero_grad()
        model.gradient_checkpointing_enable() if enabled else model.gradient_checkpointing_disable()
        torch.manual_seed(1)
        model(ids, mask, labels=labels).loss.backward()
        gradients.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name in gradients[0]:
        assert torch.allclose(gradients[0][name], gradients[1][name], atol=1e-6), name


def test_measures_and_losses_stay_float32_under_bf16_autocast():
    from qembed.training.losses import EntanglementLoss, QuantumLoss, UncertaintyLoss

    torch.manual_seed(0)
    model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2)
    ids, mask = inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids, mask)
        assert out.logits.dtype == torch.bfloat16  # the network itself runs in bf16
        for field in (out.uncertainty, out.superposition, out.entanglement, out.pair_entanglement):
            assert field.dtype == torch.float32
        labels = torch.tensor([0, 1, 2, 0])
        for loss in (QuantumLoss(), UncertaintyLoss(), EntanglementLoss()):
            value = loss(out, labels)
            assert value.dtype == torch.float32 and torch.isfinite(value)


@pytest.mark.parametrize("saved_as", ["model_file", "training_checkpoint", "state_dict"])
def test_load_encoder_takes_a_pretrained_encoder_and_keeps_the_head(tmp_path, saved_as):
    from qembed.training import QuantumTrainer

    shape = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1, "max_length": 32}
    torch.manual_seed(0)
    masked_lm = QuantumMaskedLM(50, **shape)
    path = tmp_path / "mlm.pth"
    trainer = QuantumTrainer(masked_lm, "adamw", progress_bar=False)
    {"model_file": trainer.save_model, "training_checkpoint": trainer.save_checkpoint,
     "state_dict": lambda p: torch.save(masked_lm.state_dict(), p)}[saved_as](path)
    torch.manual_seed(1)
    classifier = QuantumClassifier(50, 3, **shape)
    head = {k: v.clone() for k, v in classifier.state_dict().items() if not k.startswith("encoder.")}
    classifier.load_encoder(path)
    expected = masked_lm.encoder.state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in classifier.encoder.state_dict().items())
    assert all(torch.equal(value, classifier.state_dict()[key]) for key, value in head.items())


def test_load_encoder_names_what_does_not_fit(tmp_path):
    torch.save(QuantumMaskedLM(50, embedding_dim=16, num_heads=2, num_layers=1).state_dict(), tmp_path / "a.pth")
    wider = QuantumClassifier(50, 3, embedding_dim=32, num_heads=2, num_layers=1)
    with pytest.raises(ValueError, match="the encoder in .* does not fit this model; different shapes: "):
        wider.load_encoder(tmp_path / "a.pth")
    torch.save({"head.weight": torch.zeros(2)}, tmp_path / "b.pth")
    with pytest.raises(ValueError, match="holds no encoder.* weights"):
        wider.load_encoder(tmp_path / "b.pth")


SHAPE = ["embedding_dim", "num_states", "num_layers", "num_heads", "max_length", "entanglement", "dropout"]
SWITCHES = ["top_k", "attention_dropout", "activation_dropout", "collapse_strategy", "context_window", "eval_collapse", "contextual", "collapse"]


@pytest.mark.parametrize(("model", "own"), [(QuantumClassifier, ["vocab_size", "num_labels"]),
                                            (QuantumMaskedLM, ["vocab_size"]), (QuantumEncoder, ["vocab_size"])])
def test_every_encoder_model_takes_the_encoder_options_as_its_own_arguments(model, own):
    parameters = inspect.signature(model).parameters
    assert sorted(parameters) == sorted([*own, *SHAPE, *SWITCHES])  # their order: the test below
    if model is not QuantumEncoder:  # the encoder has always taken every option positionally
        assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in SWITCHES)
    assert parameters["embedding_dim"].default == 64 and parameters["top_k"].default == 16
    with pytest.raises(TypeError, match="embeding_dim"):
        model(*[50, 3][: len(own)], embeding_dim=16)


def test_encoder_options_given_by_position_or_keyword_build_the_same_model():
    torch.manual_seed(0)
    by_position = QuantumClassifier(50, 3, 16, 2, 1, 2, 32, "sparse", 0.0, top_k=4)
    torch.manual_seed(0)
    by_keyword = QuantumClassifier(vocab_size=50, num_labels=3, embedding_dim=16, num_states=2, num_layers=1,
                                   num_heads=2, max_length=32, entanglement="sparse", dropout=0.0, top_k=4)
    assert by_position.encoder.entanglement.top_k == by_keyword.encoder.entanglement.top_k == 4
    first, second = by_position.state_dict(), by_keyword.state_dict()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_the_constructors_keep_their_positional_order():
    """Options are written once (EncoderOptions); each constructor still takes them in the
    order it always has, so positional calls mean what they meant."""
    def positional(cls):
        return [p.name for p in inspect.signature(cls).parameters.values()
                if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]

    shape = ["embedding_dim", "num_states", "num_layers", "num_heads", "max_length", "entanglement"]
    assert positional(QuantumEncoder) == ["vocab_size", *shape, "top_k", "dropout", "collapse_strategy",
                                          "context_window", "eval_collapse", "contextual", "collapse",
                                          "attention_dropout", "activation_dropout"]
    assert positional(QuantumClassifier) == ["vocab_size", "num_labels", *shape, "dropout"]
    assert positional(QuantumMaskedLM) == ["vocab_size", *shape, "dropout"]
    assert QuantumEncoder(50, 16, 2, 1, 2, 32, "sparse", 3).entanglement.top_k == 3


def test_entanglement_auto_is_the_default_and_trains_the_corpus_exactly_as_dense():
    """Sentences of the embedded corpus (<= 24 tokens) take the dense path under "auto": the same seed gives
    the same outputs and gradients bit for bit, in training mode (dropout, collapse sampling) too."""
    from qembed.nn.entanglement import AUTO_SPARSE_FROM

    assert QuantumClassifier(50, 3).encoder.entanglement.mode == "auto"
    ids = torch.randint(0, 50, (4, 24), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(4, 24, dtype=torch.long)
    mask[1, 15:] = 0
    labels = torch.tensor([0, 1, 2, 0])
    results = []
    for entanglement in ("auto", "dense"):
        torch.manual_seed(0)
        model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2, entanglement=entanglement)
        torch.manual_seed(1)
        out = model(ids, mask, labels=labels)
        out.loss.backward()
        results.append((out, {name: p.grad for name, p in model.named_parameters()}))
    (auto, auto_grads), (dense, dense_grads) = results
    assert list(auto.keys()) == list(dense.keys()) and all(torch.equal(auto[key], dense[key]) for key in auto.keys())
    assert all(torch.equal(auto_grads[name], dense_grads[name]) for name in auto_grads)
    # from the crossover on, "auto" is "sparse": top_k partners per token
    long_ids = torch.randint(0, 50, (1, AUTO_SPARSE_FROM), generator=torch.Generator().manual_seed(0))
    outputs = []
    for entanglement in ("auto", "sparse"):
        torch.manual_seed(0)
        model = QuantumClassifier(50, 3, embedding_dim=16, num_heads=2, entanglement=entanglement, top_k=4,
                                  max_length=AUTO_SPARSE_FROM).eval()
        outputs.append(model(long_ids))
    assert outputs[0].pair_entanglement.shape == (1, AUTO_SPARSE_FROM, 4)
    assert all(torch.equal(outputs[0][key], outputs[1][key]) for key in outputs[0].keys())


@pytest.mark.parametrize("option", ["attention_dropout", "activation_dropout"])
@pytest.mark.parametrize("model_class", [QuantumClassifier, ClassicalClassifier])
def test_the_blocks_dropout_options_act_in_training_only(model_class, option):
    """Each option drops where it says (a different training forward than without it, from the
    same weights and seed) and nowhere in evaluation; neither adds weights."""
    options = {"embedding_dim": 16, "num_heads": 2, "num_layers": 1, "dropout": 0.0}
    torch.manual_seed(0)
    plain = model_class(50, 3, **options)
    torch.manual_seed(0)
    dropped = model_class(50, 3, **options, **{option: 0.5})
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    assert all(torch.equal(value, dropped.state_dict()[key]) for key, value in plain.state_dict().items())
    ids = torch.randint(4, 50, (4, 9))

    def logits(model: torch.nn.Module, training: bool) -> torch.Tensor:
        torch.manual_seed(1)
        return model.train(training)(ids).logits

    assert not torch.allclose(logits(plain, True), logits(dropped, True))
    assert torch.equal(logits(plain, False), logits(dropped, False))
    blocks = dropped.encoder.blocks if model_class is QuantumClassifier else dropped.blocks
    rates = {"attention_dropout": blocks[0].self_attn.dropout, "activation_dropout": blocks[0].dropout.p,
             "residual": (blocks[0].dropout1.p, blocks[0].dropout2.p)}
    assert rates[option] == 0.5 and rates["residual"] == (0.0, 0.0)
    assert [rate for name, rate in rates.items() if name not in (option, "residual")] == [0.0]  # as dropout


def test_the_blocks_dropout_rates_follow_dropout_unless_given():
    model = ClassicalClassifier(50, 3, dropout=0.3, activation_dropout=0.05)
    block = model.blocks[0]
    assert (block.self_attn.dropout, block.dropout.p, block.dropout1.p, block.dropout2.p) == (0.3, 0.05, 0.3, 0.3)


@pytest.mark.parametrize("option", ["dropout", "attention_dropout", "activation_dropout"])
@pytest.mark.parametrize("value", [1.0, -0.1, "0.1"])
def test_bad_dropout_rates_are_refused_by_name(option, value):
    for model_class in (QuantumClassifier, ClassicalClassifier):
        with pytest.raises((ValueError, TypeError), match=option):
            model_class(50, 3, **{option: value})
