"""Quantum-inspired layers, their output type and the quantum measures.

- :class:`QuantumEmbeddings`: tokens as superpositions of sense vectors that
  collapse with a probability the trainer sets;
- :class:`EntanglementLayer`: token pairs coupled into joint states whose
  entanglement decides how information mixes;
- :class:`QuantumOutput`: what qembed models return;
- measures: :func:`sense_entropy`, :func:`predictive_entropy`,
  :func:`superposition_coherence`, :func:`entanglement_entropy`;
- parameter roles: :func:`mark`, :func:`role_of`; collapse control:
  :func:`set_collapse_probability`, :func:`collapse_sampling` (Born-rule samples),
  :func:`evaluation_collapse` (how evaluation mixes senses).
"""

from qembed.nn.collapse import (
    CollapseAware,
    CollapseStrategy,
    collapse_aware_modules,
    one_hot_argmax,
    set_collapse_probability,
    straight_through,
)
from qembed.nn.embeddings import (
    EVAL_MODES,
    QuantumEmbeddings,
    SuperposedEmbedding,
    collapse_sampling,
    evaluation_collapse,
)
from qembed.nn.entanglement import EntanglementLayer, EntanglementOutput, coupled_state_entanglement
from qembed.nn.measures import (
    entanglement_entropy,
    masked_mean,
    predictive_entropy,
    sense_entropy,
    sense_probabilities,
    superposition_coherence,
)
from qembed.nn.output import QuantumOutput
from qembed.nn.roles import (
    ROLES,
    RoleTagged,
    is_quantum,
    mark,
    mark_module,
    project_parameters,
    role_of,
    set_projection,
    split_by_role,
)

__all__ = [
    "EVAL_MODES",
    "ROLES",
    "CollapseAware",
    "CollapseStrategy",
    "EntanglementLayer",
    "EntanglementOutput",
    "QuantumEmbeddings",
    "QuantumOutput",
    "RoleTagged",
    "SuperposedEmbedding",
    "collapse_aware_modules",
    "collapse_sampling",
    "coupled_state_entanglement",
    "entanglement_entropy",
    "evaluation_collapse",
    "is_quantum",
    "mark",
    "mark_module",
    "masked_mean",
    "one_hot_argmax",
    "predictive_entropy",
    "project_parameters",
    "role_of",
    "sense_entropy",
    "sense_probabilities",
    "set_collapse_probability",
    "set_projection",
    "split_by_role",
    "straight_through",
    "superposition_coherence",
]
