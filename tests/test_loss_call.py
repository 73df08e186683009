"""How the trainer calls a loss: as the loss declares (``loss_inputs``), else by the
signature fallback the specification's custom loss relies on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qembed.models import QuantumClassifier
from qembed.training import LossInputs, QuantumTrainer, loss_inputs
from qembed.training.loss_call import LossCall, inputs_of

BATCHES = [{"input_ids": torch.arange(10).view(2, 5), "attention_mask": torch.ones(2, 5, dtype=torch.long),
            "labels": torch.tensor([0, 1])}]


def model() -> QuantumClassifier:
    return QuantumClassifier(20, 2, embedding_dim=8, num_heads=2, num_layers=0, max_length=8)


@loss_inputs("outputs", fields=("uncertainty",))
class RenamedOutputsLoss(nn.Module):
    """Takes the model output under another name: the declaration, not the name, decides."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool]] = []

    def forward(self, out, target, uncertainty=None):
        self.seen.append((type(out).__name__, uncertainty is not None))
        return nn.functional.cross_entropy(out.logits, target)


@loss_inputs("logits")
class LogitsLossNamingUncertainty(nn.Module):
    """Names a quantum field, which the fallback would read as 'give me the outputs'."""

    def forward(self, uncertainty, labels):
        return nn.functional.cross_entropy(uncertainty, labels)


def test_a_declared_loss_is_called_as_declared_whatever_its_parameters_are_named():
    loss = RenamedOutputsLoss()
    trainer = QuantumTrainer(model(), "adamw", loss, progress_bar=False)
    trainer.train_epoch(BATCHES)
    assert loss.seen == [("QuantumOutput", True)]
    trainer = QuantumTrainer(model(), "adamw", LogitsLossNamingUncertainty(), progress_bar=False)
    assert trainer.train_epoch(BATCHES)["loss"] > 0  # given the logits tensor, not the output object


def test_a_declared_function_loss_and_the_fallback_for_undeclared_ones():
    @loss_inputs("logits")
    def plain(outputs, labels):  # 'outputs' as its first name would mean the output object undeclared
        return nn.functional.cross_entropy(outputs, labels)

    assert inputs_of(plain) == LossInputs("logits")
    assert QuantumTrainer(model(), "adamw", plain, progress_bar=False).train_epoch(BATCHES)["loss"] > 0
    assert inputs_of(nn.CrossEntropyLoss()) == LossInputs("logits")

    class SeedStyle(nn.Module):
        def forward(self, outputs, labels, uncertainty=None):
            return outputs.logits.sum() * 0

    assert inputs_of(SeedStyle()) == LossInputs("outputs", ("uncertainty",))


def test_bad_declarations_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="loss inputs must be 'logits' or 'outputs', got 'labels'"):
        loss_inputs("labels")
    with pytest.raises(ValueError, match="a loss called with the logits receives no output fields"):
        loss_inputs("logits", fields=("uncertainty",))
    with pytest.raises(ValueError, match=r"got the string 'uncertainty'; write fields=\('uncertainty',\)"):
        loss_inputs("outputs", fields="uncertainty")
    with pytest.raises(ValueError, match="output fields must be attribute names"):
        loss_inputs("outputs", fields=("not a name",))
    loss = nn.CrossEntropyLoss()
    loss.loss_inputs = "outputs"
    with pytest.raises(TypeError, match="loss_inputs must be a qembed LossInputs"):
        LossCall(loss)


def test_a_loss_that_returns_no_scalar_is_named_in_the_error():
    @loss_inputs("logits")
    def per_example(logits, labels):
        return nn.functional.cross_entropy(logits, labels, reduction="none")

    with pytest.raises(ValueError, match=r"the loss \(function\) must return a scalar tensor, got \(2,\)"):
        QuantumTrainer(model(), "adamw", per_example, progress_bar=False).train_epoch(BATCHES)
