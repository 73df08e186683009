"""Ready models returning :class:`qembed.nn.QuantumOutput`: the quantum ones and their
classical baseline."""

from qembed.models.classical import ClassicalClassifier
from qembed.models.classifier import QuantumClassifier
from qembed.models.encoder import EncodedBatch, EncoderModel, QuantumEncoder
from qembed.models.masked_lm import QuantumMaskedLM

__all__ = ["ClassicalClassifier", "EncodedBatch", "EncoderModel", "QuantumClassifier", "QuantumEncoder",
           "QuantumMaskedLM"]
