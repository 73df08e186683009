"""The quantum-aware optimizers, at the import path the user guide shows::

    from qembed.training.optimizers import QuantumOptimizer

    optimizer = QuantumOptimizer(model.parameters(), lr=2e-5, quantum_learning_rate=1e-4)

They are the built-in ``optimizers`` plugins (``qembed.plugins.create("optimizers",
"quantum", ...)`` builds the same class); see ``docs/training/optimizers.md``.
"""

from qembed_plugins.optimizers import EntanglementOptimizer, QuantumOptimizer, UncertaintyOptimizer

__all__ = ["EntanglementOptimizer", "QuantumOptimizer", "UncertaintyOptimizer"]
