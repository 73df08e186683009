"""``Predictor``: a saved model with its tokenizer and label map, from raw text to each
text's label, probabilities and uncertainty and each token's sense distribution in context.

``qembed.load(RUN_DIR)`` returns one::

    predictor = qembed.load("runs/reviews-20261206-101500")
    for prediction in predictor.predict(["the bank raised its rates", "we sat on the river bank"]):
        print(prediction.label, prediction.uncertainty, prediction.tokens[1])
    predictor.explain(["the bank raised its rates"], path="senses.png")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch import nn

from qembed.arguments import check_int
from qembed.data.collate import pad_collate
from qembed.inference.predictions import predict_batches
from qembed.training.devices import resolve_device

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qembed.data.label_map import LabelMap
    from qembed.data.text_corpus import TextDataset
    from qembed.data.tokenizer import TextTokenizer


@attrs.frozen
class TokenSenses:
    """One token of a text: its sense distribution in context (sums to 1) and the
    normalised entropy of that distribution (0: one sense, 1: every sense alike); ``()``
    and ``None`` for a model without senses (the classical baseline)."""

    token: str
    senses: tuple[float, ...]
    uncertainty: float | None


@attrs.frozen
class TextPrediction:
    """What the model makes of one text. ``label`` and ``probabilities`` (label name ->
    probability) are ``None`` for a model without a sequence label (a masked LM);
    ``uncertainty`` is the normalised entropy of its prediction."""

    text: str
    label: str | None
    probabilities: dict[str, float] | None
    uncertainty: float
    tokens: tuple[TokenSenses, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``qembed predict`` writes one per line)."""
        return attrs.asdict(self, value_serializer=lambda _, __, value: list(value) if isinstance(value, tuple) else value)


class Predictor:
    """A model ready for inference on text, with what it was trained with: the tokenizer,
    the label map and the options its training data was read with (``data_options``:
    fields and format, so :meth:`dataset` reads a new file as the training files were)."""

    def __init__(self, model: nn.Module, tokenizer: TextTokenizer | None = None, labels: LabelMap | None = None,
                 data_options: Mapping[str, Any] | None = None, *, device: str | torch.device | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.data_options = dict(data_options or {})

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Predictor:
        """The model saved in ``path`` (a model folder, or a run folder's ``model/``) with its
        tokenizer, label map and data options; see :func:`qembed.models.load_pretrained`."""
        from qembed.models.pretrained import load_pretrained

        model, tokenizer, labels, data_options = load_pretrained(path, device=device)
        return cls(model, tokenizer, labels, data_options, device=device)

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[TextPrediction]:
        """Each text's label, probabilities and uncertainty, and its tokens' senses; a text
        longer than the model takes is truncated, as the tokenizer truncates."""
        check_int("batch_size", batch_size, minimum=1)
        tokenizer = self._tokenizer()
        texts = _checked_texts(texts)
        limit = _max_length(self.model)  # as the tokenizer truncates to its own max_length
        encoded = [attrs.evolve(text, ids=text.ids[:limit], tokens=text.tokens[:limit], word_ids=text.word_ids[:limit])
                   for text in tokenizer.encode(texts)]
        items = [{"input_ids": torch.tensor(text.ids, dtype=torch.long)} for text in encoded]
        batches = [pad_collate(items[start:start + batch_size], pad_id=tokenizer.pad_id)
                   for start in range(0, len(items), batch_size)]
        predictions = predict_batches(self.model, batches, device=self.device)
        names = self.labels.names if self.labels is not None else None
        results = []
        for index, (text, tokenized) in enumerate(zip(texts, encoded)):
            probabilities = None
            label = None
            if not predictions.token_level:
                row = predictions.probabilities[index].tolist()
                if names is not None and len(names) != len(row):
                    raise ValueError(f"the label map holds {len(names)} labels, but the model predicts {len(row)} "
                                     "classes: give the label map it was trained with")
                keys = names if names is not None else [str(i) for i in range(len(row))]
                probabilities = dict(zip(keys, row))
                label = keys[max(range(len(row)), key=row.__getitem__)]
            results.append(TextPrediction(text, label, probabilities, float(predictions.uncertainty[index]),
                                          self._token_senses(tokenized.tokens, predictions, index)))
        return results

    def explain(self, texts: Sequence[str], *, path: str | os.PathLike[str] | None = None) -> Figure:
        """A heatmap per text, one row per token and one column per sense, with each token's
        uncertainty beside it (:func:`qembed.plotting.sense_heatmap`); written to ``path``
        (PNG or SVG by its suffix) when given. Needs matplotlib (``qembed[plot]``)."""
        from qembed.plotting.senses import sense_heatmap

        sentences = []
        for prediction in self.predict(texts):
            if not prediction.tokens or not prediction.tokens[0].senses:
                raise ValueError("the model reports no sense probabilities: explain needs a quantum model")
            sentences.append((
                [token.token for token in prediction.tokens],
                [list(token.senses) for token in prediction.tokens],
                [token.uncertainty for token in prediction.tokens],
                _title(prediction),
            ))
        return sense_heatmap(sentences, path=path)

    def dataset(self, source: Any, **options: Any) -> TextDataset:
        """``source`` (a file, a saved ``datasets`` folder or object) read with the training
        data's fields and format, tokenized with this tokenizer; labels must be in the label map.
        ``options`` override the saved read options (``text_field=...``, ``split=...``); a
        sense field is read only when given here (scoring does not need one)."""
        from qembed.data.text_corpus import read_dataset

        read = {key: self.data_options[key] for key in ("format", "text_field", "label_field")
                if key in self.data_options}
        return read_dataset(source, tokenizer=self._tokenizer(), labels=self.labels, **{**read, **options})

    def _tokenizer(self) -> TextTokenizer:
        if self.tokenizer is None:
            raise ValueError("this model was saved without a tokenizer, so it cannot read text; give the "
                             "tokenizer to save_pretrained(..., tokenizer=...) or pass token ids to the model")
        return self.tokenizer

    @staticmethod
    def _token_senses(tokens: Sequence[str], predictions: Any, index: int) -> tuple[TokenSenses, ...]:
        if predictions.sense_probabilities is None:  # a classical model: no senses, no sense uncertainty
            return tuple(TokenSenses(token, (), None) for token in tokens)
        senses = predictions.sense_probabilities[index].tolist()
        entropy = predictions.sense_entropy[index].tolist()
        return tuple(TokenSenses(token, tuple(row), value) for token, row, value in zip(tokens, senses, entropy))

    def __repr__(self) -> str:
        labels = f", {len(self.labels)} labels" if self.labels is not None else ""
        tokenizer = f", vocabulary {self.tokenizer.vocab_size}" if self.tokenizer is not None else ", no tokenizer"
        return f"Predictor({type(self.model).__name__} on {self.device}{tokenizer}{labels})"


def load(path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Predictor:
    """A saved model ready for inference on text: ``path`` is a run folder of ``qembed
    train`` or a folder written by ``model.save_pretrained``. See :class:`Predictor`."""
    return Predictor.load(Path(path), device=device)


def _max_length(model: nn.Module) -> int | None:
    """The longest input the model takes (``None``: no limit it states)."""
    holder = getattr(model, "encoder", model)
    limit = getattr(holder, "max_length", None)
    return limit if isinstance(limit, int) else None


def _checked_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    checked = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"texts[{index}] is empty: give each text at least one word")
        checked.append(text)
    if not checked:
        raise ValueError("texts must hold at least one text, got none")
    return checked


def _title(prediction: TextPrediction) -> str:
    label = f"{prediction.label} ({prediction.probabilities[prediction.label]:.2f}), " if (
        prediction.label is not None and prediction.probabilities is not None) else ""
    return f"\"{prediction.text}\"\n{label}uncertainty {prediction.uncertainty:.2f}"
