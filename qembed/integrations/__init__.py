"""Bridges to the frameworks qembed users already run, each behind its own extra.

- :mod:`qembed.integrations.hf` (``pip install qembed[hf]``): Hugging Face
  ``TrainingArguments``, a callback and loss for HF's own ``Trainer``, and
  ``QuantumEmbeddings`` inside a Transformers model.
- :mod:`qembed.integrations.lightning` (``qembed[lightning]``): a
  ``LightningModule`` that trains a qembed model with Lightning's loop.
- :mod:`qembed.integrations.ray` (``qembed[ray]``): Ray Tune trainables that report
  and checkpoint through Tune.

Importing :mod:`qembed` imports none of them; each imports its framework when used.
"""
