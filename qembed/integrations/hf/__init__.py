"""Hugging Face Transformers integration (``pip install "qembed[hf]"``).

- :meth:`QuantumTrainer.from_training_arguments <qembed.training.QuantumTrainer.from_training_arguments>`:
  a qembed trainer set up from ``TrainingArguments`` (:mod:`.training_arguments`);
- :class:`QuantumCallback`, :func:`quantum_compute_loss`, :class:`QuantumHFTrainer`:
  qembed's schedule, metrics and losses inside HF's own ``Trainer`` (:mod:`.callback`);
- :func:`with_quantum_embeddings`, :class:`QuantumInputEmbeddings`: ``QuantumEmbeddings``
  as a Transformers model's word embeddings (:mod:`.embeddings`).
"""

from qembed.integrations.hf.callback import QuantumCallback, QuantumHFTrainer, quantum_compute_loss
from qembed.integrations.hf.embeddings import QuantumInputEmbeddings, with_quantum_embeddings
from qembed.integrations.hf.training_arguments import MAPPED, UnusedTrainingArgumentWarning

__all__ = [
    "MAPPED",
    "QuantumCallback",
    "QuantumHFTrainer",
    "QuantumInputEmbeddings",
    "UnusedTrainingArgumentWarning",
    "quantum_compute_loss",
    "with_quantum_embeddings",
]
