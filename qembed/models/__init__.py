"""Ready models returning :class:`qembed.nn.QuantumOutput`: the quantum ones and their
classical baseline, saved as and loaded from a model folder (:mod:`qembed.models.pretrained`)."""

from qembed.models.classical import ClassicalClassifier
from qembed.models.classifier import QuantumClassifier
from qembed.models.encoder import EncodedBatch, EncoderModel, QuantumEncoder
from qembed.models.init_options import records_init_options
from qembed.models.masked_lm import QuantumMaskedLM
from qembed.models.pretrained import LoadedModel, PretrainedModel, load_pretrained

__all__ = ["ClassicalClassifier", "EncodedBatch", "EncoderModel", "LoadedModel", "PretrainedModel",
           "QuantumClassifier", "QuantumEncoder", "QuantumMaskedLM", "load_pretrained", "records_init_options"]
