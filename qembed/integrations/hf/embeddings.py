"""``QuantumEmbeddings`` inside a Hugging Face Transformers model.

:func:`with_quantum_embeddings` swaps a model's word embeddings (``get_input_embeddings``)
for :class:`QuantumInputEmbeddings`, which returns the ``[B, T, D]`` tensor the model's own
embedding block expects, so positions, token types and layer norm stay the model's. Hooks
on the model give the layer each forward's ``attention_mask`` (pads neither collapse nor
count) and add per-example ``uncertainty`` / ``predictive_entropy`` (of the model's
``logits``), ``sense_entropy`` and ``superposition`` to the model's output, where
qembed losses, :class:`~qembed.training.QuantumTrainer` and
:class:`~qembed.integrations.hf.QuantumCallback` read them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from qembed.models.heads import prediction_uncertainty
from qembed.nn.embeddings import QuantumEmbeddings

PREDICTION_KEYS = ("uncertainty", "predictive_entropy")

#: Output keys the model gains; HF's Trainer leaves them out of predictions.
QUANTUM_OUTPUT_KEYS = ("uncertainty", "predictive_entropy", "sense_entropy", "superposition")


class QuantumInputEmbeddings(QuantumEmbeddings):
    """:class:`~qembed.nn.QuantumEmbeddings` as a drop-in word-embedding module:
    ``forward(input_ids) -> [B, T, D]``.

    The last forward's per-example measures stay in :attr:`last_measures` (detached,
    for callbacks); the model's output hook takes them with their gradients. Without an
    attention mask from :func:`with_quantum_embeddings`'s hook, tokens equal to
    ``padding_idx`` count as padding.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, num_states: int = 4,
                 collapse_strategy: Any = "context_aware", *, padding_idx: int | None = None,
                 **options: Any) -> None:
        super().__init__(vocab_size, embedding_dim, num_states, collapse_strategy, **options)
        self.padding_idx = padding_idx
        self.attention_mask: Tensor | None = None  # the current forward's mask, set by the model's hook
        self.last_measures: dict[str, Tensor] = {}  # detached: read by callbacks
        self.measures_for_output: dict[str, Tensor] = {}  # with gradients: taken by the model's output hook

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        mask = attention_mask if attention_mask is not None else self.attention_mask
        if mask is not None and mask.shape != input_ids.shape:
            mask = None  # e.g. a generation step that embeds only the newest tokens
        if mask is None and self.padding_idx is not None:
            mask = input_ids != self.padding_idx
        superposed = super().forward(input_ids, mask)
        real = mask.bool() if mask is not None else input_ids.new_ones(input_ids.shape, dtype=bool)
        self.measures_for_output = superposed.per_example(real)
        self.last_measures = {key: value.detach() for key, value in self.measures_for_output.items()}
        return superposed.embeddings


def with_quantum_embeddings(model: nn.Module, num_states: int = 4, collapse_strategy: Any = "context_aware",
                            **options: Any) -> nn.Module:
    """Give a Transformers model :class:`QuantumInputEmbeddings` as its word embeddings
    (same vocabulary, width, device and dtype; freshly initialised); returns the same model.

    ``options`` go to :class:`~qembed.nn.QuantumEmbeddings` (``context_window``,
    ``eval_collapse``). A model whose output layer shares the word-embedding matrix
    (tied weights, as in masked-LM heads) is refused: K senses per token have no single
    matrix to share; build it with ``tie_word_embeddings=False``.
    """
    get, set_ = getattr(model, "get_input_embeddings", None), getattr(model, "set_input_embeddings", None)
    if not (callable(get) and callable(set_)):
        raise TypeError(f"{type(model).__name__} has no get_input_embeddings()/set_input_embeddings(); "
                        "with_quantum_embeddings needs a Transformers PreTrainedModel")
    current = get()
    if isinstance(current, QuantumInputEmbeddings):
        raise ValueError(f"{type(model).__name__} already has QuantumInputEmbeddings")
    if not isinstance(current, nn.Embedding):
        raise TypeError(f"{type(model).__name__}'s input embeddings are a {type(current).__name__}, "
                        "not an nn.Embedding")
    config = getattr(model, "config", None)
    output_layer = model.get_output_embeddings() if callable(getattr(model, "get_output_embeddings", None)) else None
    if output_layer is not None and getattr(config, "tie_word_embeddings", False):
        raise ValueError(f"{type(model).__name__} ties its output layer to the word embeddings "
                         "(config.tie_word_embeddings=True); build it with tie_word_embeddings=False")
    layer = QuantumInputEmbeddings(current.num_embeddings, current.embedding_dim, num_states, collapse_strategy,
                                   padding_idx=current.padding_idx, **options)
    layer.to(device=current.weight.device, dtype=current.weight.dtype)  # e.g. a model loaded in bfloat16
    set_(layer)
    # the hooks find the layer through the model, so a deep copy of the model uses its own
    signature = inspect.signature(model.forward)

    def hand_over_mask(module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        embeddings = module.get_input_embeddings()
        embeddings.measures_for_output, embeddings.last_measures = {}, {}  # a forward from inputs_embeds makes none
        embeddings.attention_mask = signature.bind_partial(*args, **kwargs).arguments.get("attention_mask")

    def add_quantum_fields(module: nn.Module, args: tuple, kwargs: dict[str, Any], output: Any) -> Any:
        embeddings = module.get_input_embeddings()
        measures, embeddings.measures_for_output = embeddings.measures_for_output, {}
        mask, embeddings.attention_mask = embeddings.attention_mask, None
        if isinstance(output, Mapping) and measures:
            logits = output.get("logits")
            if logits is not None:  # the prediction's uncertainty, over real tokens for token-level logits
                scored = mask.bool() if mask is not None and logits.dim() == 3 else None
                measures = {**measures, **prediction_uncertainty(logits, scored)}
                embeddings.last_measures.update({key: measures[key].detach() for key in PREDICTION_KEYS})
            for key in QUANTUM_OUTPUT_KEYS:
                if key in measures:
                    output[key] = measures[key]
        return output

    model.register_forward_pre_hook(hand_over_mask, with_kwargs=True)
    model.register_forward_hook(add_quantum_fields, with_kwargs=True)
    if config is not None:
        ignored = list(getattr(config, "keys_to_ignore_at_inference", None) or [])
        config.keys_to_ignore_at_inference = ignored + [k for k in QUANTUM_OUTPUT_KEYS if k not in ignored]
    return model
