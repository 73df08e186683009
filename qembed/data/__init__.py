"""qembed.data: the embedded default corpus, a deterministic synthetic polysemy task.

Ambiguous words (``bank``: finance / nature, ``bat``: sports / animals, ...) appear among
cue words of their true topic and of a distractor topic; the sentence label is the topic
of the word's sense, and every occurrence of the word carries its ground-truth sense, so a
model's sense choice can be scored. See ``docs/data.md``.

``TextCorpus`` reads a user's own text (JSON Lines, CSV, TSV, plain text, Hugging Face
``datasets``), tokenized by a ``TextTokenizer`` (BPE or WordPiece trained on it, or a
pre-trained one) with labels mapped by a ``LabelMap``; ``read_dataset`` reads one more file
alike for evaluation.

``WordNetSenseCorpus`` is a real task of the same shape: WordNet 3.0's example sentences,
each with a polysemous noun annotated with its sense (read from Debian's ``wordnet-base``).

>>> from qembed.data import PolysemyCorpus
>>> corpus = PolysemyCorpus(seed=0)
>>> train, val, test = corpus.loaders(batch_size=32)
"""

from __future__ import annotations

from qembed.data.collate import pad_collate
from qembed.data.continual import split_labels
from qembed.data.corpus import PolysemyCorpus
from qembed.data.dataset import PolysemyDataset
from qembed.data.generate import IGNORE_INDEX
from qembed.data.label_map import LabelMap
from qembed.data.lexicon import DEFAULT_LEXICON, SPECIAL_TOKENS, Lexicon
from qembed.data.mlm import MLMCollator
from qembed.data.text_corpus import TextCorpus, TextDataset, read_dataset
from qembed.data.tokenizer import TextTokenizer, Tokenized
from qembed.data.wordnet import WordNetSenseCorpus

__all__ = [
    "DEFAULT_LEXICON",
    "IGNORE_INDEX",
    "SPECIAL_TOKENS",
    "LabelMap",
    "Lexicon",
    "MLMCollator",
    "PolysemyCorpus",
    "PolysemyDataset",
    "TextCorpus",
    "TextDataset",
    "TextTokenizer",
    "Tokenized",
    "WordNetSenseCorpus",
    "pad_collate",
    "read_dataset",
    "split_labels",
]
