"""The seed's code snippets ("QEmbed Training"), each kept verbatim and run as
written against qembed's own models and loaders (``tests/seed/conftest.py``)."""

QUICK_START = """
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss
from qembed.training.optimizers import QuantumOptimizer

# Initialize components
trainer = QuantumTrainer(
    model=quantum_model,
    optimizer=QuantumOptimizer(quantum_model.parameters(), lr=2e-5),
    loss_fn=QuantumLoss(uncertainty_weight=0.1),
    quantum_training_config={
        'superposition_schedule': 'linear',
        'entanglement_training': True,
        'uncertainty_regularization': 0.1
    }
)

# Train the model
history = trainer.train(
    train_dataloader=train_loader,
    val_dataloader=val_loader,
    num_epochs=10
)
"""

TRAINING_CONFIGURATION = """
# Quantum training configuration
quantum_config = {
    'superposition_schedule': 'linear',      # Gradual quantum-to-classical transition
    'entanglement_training': True,           # Enable entanglement training
    'uncertainty_regularization': 0.1,       # Uncertainty regularization weight
    'collapse_strategy': 'context_aware',    # Context-aware collapse
    'quantum_gradient_clipping': True,       # Quantum-aware gradient clipping
    'max_quantum_grad_norm': 1.0            # Maximum quantum gradient norm
}

# Initialize trainer with configuration
trainer = QuantumTrainer(
    model=model,
    optimizer=optimizer,
    loss_fn=loss_fn,
    quantum_training_config=quantum_config
)
"""

PRETRAINING_WORKFLOW = """
# Pre-train quantum model
pretrain_config = {
    'superposition_schedule': 'linear',
    'entanglement_training': True,
    'uncertainty_regularization': 0.05
}

pretrainer = QuantumTrainer(
    model=quantum_model,
    optimizer=pretrain_optimizer,
    loss_fn=mlm_loss,
    quantum_training_config=pretrain_config
)

# Pre-train
pretrainer.train(
    train_dataloader=pretrain_loader,
    num_epochs=100,
    save_best_model=True,
    model_save_path="./pretrained_quantum_model.pth"
)
"""

FINETUNING_WORKFLOW = """
# Fine-tune for specific task
finetune_config = {
    'superposition_schedule': 'constant',
    'entanglement_training': False,  # Disable entanglement training
    'uncertainty_regularization': 0.1
}

finetuner = QuantumTrainer(
    model=quantum_model,
    optimizer=finetune_optimizer,
    loss_fn=task_loss,
    quantum_training_config=finetune_config
)

# Fine-tune
finetuner.train(
    train_dataloader=task_train_loader,
    val_dataloader=task_val_loader,
    num_epochs=5,
    early_stopping_patience=3
)
"""

CONTINUAL_LEARNING_WORKFLOW = """
# Continual learning with quantum components
continual_config = {
    'superposition_schedule': 'cyclic',
    'entanglement_training': True,
    'uncertainty_regularization': 0.15,
    'quantum_memory_replay': True
}

continual_trainer = QuantumTrainer(
    model=quantum_model,
    optimizer=continual_optimizer,
    loss_fn=continual_loss,
    quantum_training_config=continual_config
)

# Train on new tasks while preserving quantum properties
for task_id, task_data in enumerate(task_sequence):
    continual_trainer.train(
        train_dataloader=task_data['train'],
        val_dataloader=task_data['val'],
        num_epochs=3
    )
"""

LINEAR_SCHEDULE = """
quantum_config = {
    'superposition_schedule': 'linear'
}
"""

CYCLIC_SCHEDULE = """
quantum_config = {
    'superposition_schedule': 'cyclic'
}
"""

CONSTANT_SCHEDULE = """
quantum_config = {
    'superposition_schedule': 'constant'
}
"""

QUANTUM_LOSS = """
from qembed.training.losses import QuantumLoss

quantum_loss = QuantumLoss(
    base_loss=CrossEntropyLoss(),
    uncertainty_weight=0.1,
    entanglement_weight=0.05
)
"""

UNCERTAINTY_LOSS = """
from qembed.training.losses import UncertaintyLoss

uncertainty_loss = UncertaintyLoss(
    base_loss=CrossEntropyLoss(),
    uncertainty_weight=0.2,
    uncertainty_type='entropy'
)
"""

ENTANGLEMENT_LOSS = """
from qembed.training.losses import EntanglementLoss

entanglement_loss = EntanglementLoss(
    base_loss=CrossEntropyLoss(),
    entanglement_weight=0.1,
    entanglement_type='bell_state'
)
"""

QUANTUM_OPTIMIZER = """
from qembed.training.optimizers import QuantumOptimizer

quantum_optimizer = QuantumOptimizer(
    model.parameters(),
    lr=2e-5,
    quantum_learning_rate=1e-4
)
"""

ENTANGLEMENT_OPTIMIZER = """
from qembed.training.optimizers import EntanglementOptimizer

entanglement_optimizer = EntanglementOptimizer(
    model.parameters(),
    lr=2e-5,
    entanglement_lr=5e-5
)
"""

UNCERTAINTY_OPTIMIZER = """
from qembed.training.optimizers import UncertaintyOptimizer

uncertainty_optimizer = UncertaintyOptimizer(
    model.parameters(),
    lr=2e-5,
    uncertainty_threshold=0.5
)
"""

TRAINING_METRICS = """
# Access training metrics
train_metrics = trainer.train_epoch(train_loader, epoch=0)

print(f"Loss: {train_metrics['loss']}")
print(f"Quantum Loss: {train_metrics['quantum_loss']}")
print(f"Uncertainty: {train_metrics['uncertainty']}")
print(f"Entanglement Strength: {train_metrics['entanglement_strength']}")
print(f"Superposition Coherence: {train_metrics['superposition_coherence']}")
"""

VALIDATION_METRICS = """
# Validate and get metrics
val_metrics = trainer.validate(val_loader)

print(f"Validation Loss: {val_metrics['loss']}")
print(f"Validation Accuracy: {val_metrics['accuracy']}")
print(f"Validation Uncertainty: {val_metrics['uncertainty']}")
"""

TRAINING_HISTORY = """
# Get complete training history
history = trainer.training_history

# Plot training curves
import matplotlib.pyplot as plt

plt.figure(figsize=(12, 4))

plt.subplot(1, 3, 1)
plt.plot(history['train_loss'], label='Train')
plt.plot(history['val_loss'], label='Validation')
plt.title('Loss')
plt.legend()

plt.subplot(1, 3, 2)
plt.plot(history['uncertainty'])
plt.title('Uncertainty')

plt.subplot(1, 3, 3)
plt.plot(history['quantum_loss'])
plt.title('Quantum Loss')

plt.tight_layout()
plt.show()
"""

CUSTOM_LOSS = """
class QuantumAwareLoss(nn.Module):
    def __init__(self, base_loss, uncertainty_weight=0.1):
        super().__init__()
        self.base_loss = base_loss
        self.uncertainty_weight = uncertainty_weight
    
    def forward(self, outputs, labels, uncertainty=None):
        # Base task loss
        task_loss = self.base_loss(outputs.logits, labels)
        
        # Uncertainty regularization
        if uncertainty is not None:
            uncertainty_loss = uncertainty.mean()
            total_loss = task_loss + self.uncertainty_weight * uncertainty_loss
        else:
            total_loss = task_loss
        
        return total_loss

# Use custom loss
custom_loss = QuantumAwareLoss(CrossEntropyLoss(), uncertainty_weight=0.2)
trainer = QuantumTrainer(model, optimizer, custom_loss)
"""

GRADIENT_CLIPPING = """
# Enable quantum-aware gradient clipping
quantum_config = {
    'quantum_gradient_clipping': True,
    'max_quantum_grad_norm': 1.0,
    'separate_clipping': True
}

trainer = QuantumTrainer(
    model=model,
    optimizer=optimizer,
    loss_fn=loss_fn,
    quantum_training_config=quantum_config
)
"""

MODEL_CHECKPOINTING = """
# Save checkpoints during training
trainer.train(
    train_dataloader=train_loader,
    val_dataloader=val_loader,
    num_epochs=10,
    save_best_model=True,
    model_save_path="./checkpoints/best_model.pth"
)

# Load best model
trainer.load_model("./checkpoints/best_model.pth")
"""

MEMORY_EFFICIENCY = """
# Optimize memory usage
quantum_config = {
    'gradient_checkpointing': True,
    'mixed_precision': True,
    'quantum_memory_efficient': True
}
"""

COMPUTATIONAL_EFFICIENCY = """
# Optimize computation
quantum_config = {
    'quantum_parallel': True,
    'entanglement_optimization': 'sparse',
    'collapse_optimization': 'batched'
}
"""
