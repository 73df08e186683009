"""``TextTokenizer``: subword tokenization of real text, through Hugging Face ``tokenizers``.

A tokenizer is trained on a corpus (BPE or WordPiece), built from a word list (the
embedded corpora's word-level vocabulary), or loaded from a folder: one written by
:meth:`TextTokenizer.save`, or a pre-trained Hugging Face tokenizer folder (read with
``transformers.AutoTokenizer``, the ``hf`` extra). Every :class:`Tokenized` text knows which
whitespace word each token came from, so per-word annotations (senses) can be aligned.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from qembed.arguments import check_bool, check_int, quoted
from qembed.data._checks import did_you_mean, write_atomically
from qembed.data.lexicon import MASK, PAD, SPECIAL_TOKENS, UNK

#: The training algorithms of :meth:`TextTokenizer.train`.
ALGORITHMS = ("bpe", "wordpiece")
#: The files :meth:`TextTokenizer.save` writes: the ``tokenizers`` pipeline and qembed's settings.
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "qembed_tokenizer.json"
_FORMAT = "qembed-tokenizer"
_VERSION = 1
_WORD = re.compile(r"\S+")


@attrs.frozen
class Tokenized:
    """One encoded text.

    ``word_ids[i]`` is the index in ``text.split()`` of the whitespace word token ``i`` came
    from (read from the token's character offsets), ``None`` for a token with no text
    (a special token a pre-trained tokenizer adds, such as ``[CLS]``).
    """

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    word_ids: tuple[int | None, ...]


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` with the ids a qembed model and its collators need.

    Build one with :meth:`train`, :meth:`from_vocabulary` or :meth:`load`. Encodings are
    truncated to ``max_length`` tokens. ``special_ids`` are never masked by the MLM collator.
    """

    def __init__(self, tokenizer: Tokenizer, *, pad_id: int, mask_id: int | None,
                 special_ids: Iterable[int], max_length: int) -> None:
        self._tokenizer = tokenizer
        self.max_length = check_int("max_length", max_length, minimum=1)
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_length)
        self.vocab_size: int = max(tokenizer.get_vocab(with_added_tokens=True).values()) + 1
        self.pad_id = check_int("pad_id", pad_id, minimum=0, maximum=self.vocab_size - 1)
        self.mask_id = None if mask_id is None else check_int("mask_id", mask_id, 0, self.vocab_size - 1)
        self.special_ids = frozenset(check_int("special_ids", i, 0, self.vocab_size - 1) for i in special_ids)

    # -- building -----------------------------------------------------------------

    @classmethod
    def train(cls, texts: Iterable[str], *, algorithm: str = "bpe", vocab_size: int = 8000,
              lowercase: bool = True, max_length: int = 128) -> TextTokenizer:
        """Train a BPE or WordPiece tokenizer on ``texts`` with qembed's special tokens
        (``[PAD]`` 0, ``[UNK]`` 1, ``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4); nothing is added
        around a text (the models mean-pool). BPE is the default because it is reproducible:
        ``tokenizers``' WordPiece trainer numbers its ``##`` tokens in hash order, so the same
        texts can give another vocabulary in another process (huggingface/tokenizers#1794)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS))}, got "
                             f"{quoted(algorithm)}{did_you_mean(str(algorithm), ALGORITHMS)}")
        check_int("vocab_size", vocab_size, minimum=len(SPECIAL_TOKENS) + 1)
        check_bool("lowercase", lowercase)
        check_int("max_length", max_length, minimum=1)
        corpus = list(texts)
        if not corpus:
            raise ValueError("texts must hold at least 1 text to train a tokenizer on, got none")
        special = list(SPECIAL_TOKENS)
        if algorithm == "wordpiece":
            tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
            tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
            tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            tokenizer.decoder = decoders.WordPiece()
            trainer: Any = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special,
                                                            show_progress=False)
        else:
            tokenizer = Tokenizer(models.BPE(unk_token=UNK))
            steps = [normalizers.NFKC(), *([normalizers.Lowercase()] if lowercase else [])]
            tokenizer.normalizer = normalizers.Sequence(steps)
            tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
        tokenizer.train_from_iterator(corpus, trainer, length=len(corpus))
        return cls(tokenizer, pad_id=0, mask_id=SPECIAL_TOKENS.index(MASK), special_ids=range(len(special)),
                   max_length=max_length)

    @classmethod
    def from_vocabulary(cls, vocab: Sequence[str], *, lowercase: bool = True, max_length: int = 512) -> TextTokenizer:
        """A word-level tokenizer: whitespace-separated words, id = position in ``vocab``,
        unknown words ``[UNK]``.

        With ``lowercase`` a word is looked up as written, then lowercased (as
        ``PolysemyCorpus.encode`` does). ``vocab`` must hold ``[PAD]`` and ``[UNK]``; the
        :data:`~qembed.data.SPECIAL_TOKENS` it holds are the special ids.
        """
        check_bool("lowercase", lowercase)
        words = list(vocab)
        for word in words:
            if not isinstance(word, str) or len(word.split()) != 1 or word != word.strip():
                raise ValueError(f"vocab: every word must be a non-empty string without spaces, got {quoted(word)}")
        index = {word: i for i, word in enumerate(words)}
        if len(index) != len(words):
            repeated = next(word for word in words if words.count(word) > 1)
            raise ValueError(f"vocab: word {repeated!r} appears more than once")
        missing = [token for token in (PAD, UNK) if token not in index]
        if missing:
            raise ValueError(f"vocab must hold {' and '.join(missing)}")
        tokenizer = Tokenizer(models.WordLevel(index, unk_token=UNK))
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        specials = [token for token in SPECIAL_TOKENS if token in index]
        tokenizer.add_special_tokens([AddedToken(token, normalized=False) for token in specials])
        if lowercase:
            tokenizer.normalizer = normalizers.Lowercase()
            # a word with capitals is matched as written, before lowercasing
            cased = [word for word in words if word != word.lower() and word not in specials]
            tokenizer.add_tokens([AddedToken(word, normalized=False, single_word=True) for word in cased])
        return cls(tokenizer, pad_id=index[PAD], mask_id=index.get(MASK),
                   special_ids=[index[token] for token in specials], max_length=max_length)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, max_length: int | None = None) -> TextTokenizer:
        """Load a folder written by :meth:`save`, or a pre-trained Hugging Face tokenizer folder
        (``transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)``).

        ``max_length`` (default: the saved one; for a Hugging Face folder its
        ``model_max_length``, at most 512) sets the truncation. A folder that does not load
        raises ``ValueError`` naming it and why.
        """
        path = Path(folder)
        if max_length is not None:
            check_int("max_length", max_length, minimum=1)
        if not path.is_dir():
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: no such folder")
        if (path / SETTINGS_FILE).is_file():
            return cls._load_saved(path, max_length)
        return cls._load_pretrained(path, max_length)

    @classmethod
    def _load_saved(cls, path: Path, max_length: int | None) -> TextTokenizer:
        try:
            settings = json.loads((path / SETTINGS_FILE).read_text())
            if settings.get("format") != _FORMAT or settings.get("version") != _VERSION:
                raise ValueError(f"{SETTINGS_FILE} is not a {_FORMAT} version {_VERSION} file")
            tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
            return cls(tokenizer, pad_id=settings["pad_id"], mask_id=settings["mask_id"],
                       special_ids=settings["special_ids"],
                       max_length=settings["max_length"] if max_length is None else max_length)
        except Exception as err:
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: {err}") from err

    @classmethod
    def _load_pretrained(cls, path: Path, max_length: int | None) -> TextTokenizer:
        try:
            from transformers import AutoTokenizer
        except ImportError as err:
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: it is not a qembed tokenizer "
                             f"({SETTINGS_FILE} is missing) and a Hugging Face tokenizer needs transformers "
                             "(pip install 'qembed[hf]')") from err
        try:
            pretrained = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as err:
            reason = str(err).strip().split("\n", 1)[0].split(". ", 1)[0]  # transformers lists every model type after
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: {type(err).__name__}: {reason}") from err
        if not pretrained.is_fast:
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: {type(pretrained).__name__} has no "
                             "fast (Rust `tokenizers`) version")
        pad_id = pretrained.pad_token_id if pretrained.pad_token_id is not None else pretrained.eos_token_id
        if pad_id is None:
            raise ValueError(f"tokenizer folder {str(path)!r} does not load: it has neither a pad token nor an "
                             "end-of-sequence token to pad with")
        if max_length is None:
            max_length = min(int(pretrained.model_max_length), 512)
        backend = Tokenizer.from_str(pretrained.backend_tokenizer.to_str())
        return cls(backend, pad_id=pad_id, mask_id=pretrained.mask_token_id,
                   special_ids=pretrained.all_special_ids, max_length=max_length)

    # -- use ----------------------------------------------------------------------

    def encode(self, texts: Sequence[str], *, names: Sequence[str] | None = None) -> list[Tokenized]:
        """Encode each text (truncated to ``max_length`` tokens); an empty text is an error,
        naming the text as ``names[i]`` (default ``texts[i]``)."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a sequence of strings, got {quoted(texts)}")
        labels = [f"texts[{i}]" for i in range(len(texts))] if names is None else list(names)
        if len(labels) != len(texts):
            raise ValueError(f"names must name each of the {len(texts)} texts, got {len(labels)} names")
        for label, text in zip(labels, texts):
            if not isinstance(text, str):
                raise TypeError(f"{label} must be a string, got {quoted(text)}")
            if not text.strip():
                raise ValueError(f"{label} is an empty text")
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        results = []
        for label, text, encoding in zip(labels, texts, encodings):
            if not any(start < end for start, end in encoding.offsets):
                raise ValueError(f"{label} gives no tokens: {quoted(text)}")
            results.append(Tokenized(tuple(encoding.ids), tuple(encoding.tokens),
                                     _word_ids(text, encoding.offsets)))
        return results

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``tokenizer.json`` (the ``tokenizers`` pipeline) and ``qembed_tokenizer.json``
        (pad, mask and special ids, ``max_length``) into ``folder``; :meth:`load` reads it."""
        path = Path(folder)
        settings = {"format": _FORMAT, "version": _VERSION, "pad_id": self.pad_id, "mask_id": self.mask_id,
                    "special_ids": sorted(self.special_ids), "max_length": self.max_length}
        write_atomically(path / TOKENIZER_FILE, self._tokenizer.to_str().encode())
        write_atomically(path / SETTINGS_FILE, json.dumps(settings, indent=2).encode())

    def __repr__(self) -> str:
        model = type(self._tokenizer.model).__name__
        return (f"{type(self).__name__}({model}, vocab_size={self.vocab_size}, pad_id={self.pad_id}, "
                f"mask_id={self.mask_id}, max_length={self.max_length})")


def _word_ids(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[int | None, ...]:
    """The whitespace word of each token, from its character offsets (``None`` when it has no text)."""
    spans = [(match.start(), match.end()) for match in _WORD.finditer(text)]
    starts = [start for start, _ in spans]
    word_ids: list[int | None] = []
    for start, end in offsets:
        while start < end and text[start].isspace():
            start += 1
        word = bisect.bisect_right(starts, start) - 1 if start < end else -1
        word_ids.append(word if word >= 0 and start < spans[word][1] else None)
    return tuple(word_ids)
