"""Ready quantum-enhanced models returning :class:`qembed.nn.QuantumOutput`."""

from qembed.models.classifier import QuantumClassifier
from qembed.models.encoder import EncodedBatch, EncoderModel, QuantumEncoder
from qembed.models.masked_lm import QuantumMaskedLM

__all__ = ["EncodedBatch", "EncoderModel", "QuantumClassifier", "QuantumEncoder", "QuantumMaskedLM"]
