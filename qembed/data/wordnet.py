"""``WordNetSenseCorpus``: a real sense-annotated task built from WordNet 3.0's example sentences.

WordNet's glosses hold example sentences for many synsets (``bank.n.01``: "they pulled the
canoe up on the bank"; ``bank.n.02``: "he cashed a check at the bank"). An example of a
synset that contains one of the synset's words is a sentence in which that word is
annotated with its sense. The sentence label is the synset's lexicographer file, its coarse
*supersense* (``noun.object``, ``noun.group``, ...). See ``docs/data.md`` for every rule and
the resulting sizes.

The database is read from a WordNet ``dict`` directory (``data.noun``, ``index.noun``, ...),
by default Debian's ``wordnet-base`` package (``/usr/share/wordnet``), with a small parser of
the format documented in wndb(5WN): nltk's reader needs a ``lexnames`` file that Debian does
not ship. Nothing is downloaded and nothing is written to disk.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from qembed.arguments import check_int, check_probability
from qembed.data.corpus import PolysemyCorpus
from qembed.data.dataset import PolysemyDataset
from qembed.data.generate import IGNORE_INDEX
from qembed.data.lexicon import CLS, MASK, PAD, SEP, SPECIAL_TOKENS, UNK

#: The environment variable naming the WordNet ``dict`` directory.
ENV_VAR = "QEMBED_WORDNET_DIR"
#: Where Debian's ``wordnet-base`` package installs the WordNet 3.0 database.
DEBIAN_ROOT = Path("/usr/share/wordnet")
#: The parts of speech and their file suffixes, in the order senses are numbered across them.
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")

#: The lexicographer file names by file number, from lexnames(5WN) (WordNet 3.0); used when
#: the directory has no ``lexnames`` file, as Debian's has not.
LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)

_SPLITS = ("train", "val", "test")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_EXAMPLE = re.compile(r'"([^"]*)"')
_ADJECTIVE_MARKER = re.compile(r"\((?:a|p|ip)\)$")
_OFFSET = re.compile(r"\d{8}")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words: runs of ASCII letters and digits, joined
    by inner hyphens (``black-and-white``); everything else (punctuation, apostrophes,
    quotes) separates words and is dropped, so ``"the bank's"`` gives ``the bank s``."""
    return _WORD.findall(text.lower())


def wordnet_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The WordNet ``dict`` directory: ``root``, else ``$QEMBED_WORDNET_DIR``, else
    ``/usr/share/wordnet`` (Debian's ``wordnet-base``)."""
    if root is None:
        root = os.environ.get(ENV_VAR) or DEBIAN_ROOT
    elif not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path or None, got {root!r}")
    return Path(root)


def _missing(root: Path, files: Sequence[str]) -> FileNotFoundError:
    return FileNotFoundError(
        f"WordNet database not found: {root} lacks {', '.join(files)}. Install Debian's wordnet-base "
        f"package (`apt-get install wordnet-base`, into {DEBIAN_ROOT}), or point root= or the "
        f"{ENV_VAR} environment variable at a WordNet 3.0 dict directory holding data.noun and index.noun"
    )


# --- reading the database (wndb(5WN)) ---------------------------------------------------------


@dataclass(frozen=True)
class Synset:
    """One line of a ``data.<pos>`` file: its byte ``offset``, lexicographer file name, its
    words (lowercased, adjective markers such as ``(a)`` removed), definition and examples."""

    offset: int
    ss_type: str
    lexname: str
    words: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]


def read_lexnames(root: Path) -> tuple[str, ...]:
    """The lexicographer file names by number: ``root/lexnames`` if present, else :data:`LEXNAMES`."""
    path = root / "lexnames"
    if not path.is_file():
        return LEXNAMES
    names: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[0].isdigit():
            raise ValueError(f"{path}:{number}: expected 'number name category', got {line!r}")
        names[int(fields[0])] = fields[1]
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{path}: file numbers must run 0, 1, 2, ..., got {sorted(names)}")
    return tuple(names[i] for i in range(len(names)))


def split_gloss(gloss: str) -> tuple[str, tuple[str, ...]]:
    """The definition and the double-quoted example sentences of a gloss."""
    examples = tuple(example.strip() for example in _EXAMPLE.findall(gloss))
    definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
    return definition, tuple(example for example in examples if example)


def read_data(path: Path, lexnames: Sequence[str], *, examples_only: bool = False) -> dict[int, Synset]:
    """The synsets of a ``data.<pos>`` file by offset (only those whose gloss holds a quote
    when ``examples_only``). Checks every line's offset field against its byte offset."""
    synsets: dict[int, Synset] = {}
    position = 0
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            start, position = position, position + len(raw)
            if raw.startswith(b"  "):  # license header
                continue
            line = raw.decode("ascii").rstrip("\n")
            head, bar, gloss = line.partition(" | ")
            fields = head.split(" ")
            try:
                offset, lex_filenum, ss_type = int(fields[0]), int(fields[1]), fields[2]
                w_cnt = int(fields[3], 16)
                words = fields[4 : 4 + 2 * w_cnt : 2]
                int(fields[4 + 2 * w_cnt])  # p_cnt
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{number}: not a wndb(5WN) data line: {line[:80]!r}") from None
            if offset != start or not bar or len(words) != w_cnt or not 0 <= lex_filenum < len(lexnames):
                raise ValueError(
                    f"{path}:{number}: not a wndb(5WN) data line (offset field {fields[0]} at byte {start}, "
                    f"lex_filenum {lex_filenum}, {len(words)} of {w_cnt} words, "
                    f"gloss {'present' if bar else 'absent'})"
                )
            if examples_only and '"' not in gloss:
                continue
            definition, examples = split_gloss(gloss)
            synsets[offset] = Synset(
                offset, ss_type, lexnames[lex_filenum],
                tuple(_ADJECTIVE_MARKER.sub("", word).lower() for word in words), definition, examples,
            )
    return synsets


def read_index(path: Path) -> dict[str, tuple[int, ...]]:
    """``lemma -> synset offsets`` of an ``index.<pos>`` file, in WordNet sense-number order."""
    index: dict[str, tuple[int, ...]] = {}
    with path.open(encoding="ascii") as file:
        for number, line in enumerate(file, 1):
            if line.startswith("  "):
                continue
            fields = line.split()
            try:
                lemma, synset_cnt = fields[0], int(fields[2])
                offsets = fields[len(fields) - synset_cnt :]
                if synset_cnt < 1 or int(fields[len(fields) - synset_cnt - 1]) < 0:  # tagsense_cnt
                    raise ValueError
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{number}: not a wndb(5WN) index line: {line[:80]!r}") from None
            if not all(_OFFSET.fullmatch(offset) for offset in offsets):
                raise ValueError(f"{path}:{number}: synset offsets must be 8 digits, got {offsets}")
            index[lemma] = tuple(int(offset) for offset in offsets)
    return index


# --- the task ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordNetSense:
    """One sense of a target word: ``name`` is ``lemma.<ss_type>.<sense number>`` as in nltk
    (``bank.n.02``), ``number`` WordNet's 1-based sense number of ``lemma`` in ``pos``,
    ``offset`` the synset's byte offset in ``data.<pos>``, ``lexname`` its lexicographer file."""

    name: str
    lemma: str
    pos: str
    number: int
    offset: int
    lexname: str
    definition: str


@dataclass(frozen=True)
class WordNetExample:
    """The source of one sentence: the example ``text`` as WordNet has it, its ``tokens``,
    and the sense of each target word in it (the same synset for all of them)."""

    text: str
    tokens: tuple[str, ...]
    senses: tuple[WordNetSense, ...]

    @property
    def lexname(self) -> str:
        return self.senses[0].lexname

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(sense.lemma for sense in self.senses)


@dataclass(frozen=True)
class _Extraction:
    examples: tuple[WordNetExample, ...]  # in database order (pos, offset, example)
    senses: dict[str, tuple[WordNetSense, ...]]  # word -> its kept senses, sense-index order
    stats: dict[str, int]


def _signature(root: Path, pos: tuple[str, ...]) -> tuple:
    names = [f"{kind}.{part}" for part in pos for kind in ("data", "index")] + ["lexnames"]
    stats = []
    for name in names:
        path = root / name
        stats.append((name, path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else (name,))
    return tuple(stats)


def _extract(root: Path, pos: tuple[str, ...]) -> _Extraction:
    names = [f"{kind}.{part}" for part in pos for kind in ("data", "index")]
    missing = [name for name in names if not (root / name).is_file()]
    if missing:
        raise _missing(root, missing)
    return _extract_cached(root.resolve(), pos, _signature(root.resolve(), pos))


@lru_cache(maxsize=4)
def _extract_cached(root: Path, pos: tuple[str, ...], signature: tuple) -> _Extraction:
    """The sense-annotated examples of ``root`` (cached in memory per directory and file stamps)."""
    lexnames = read_lexnames(root)
    # every (word, pos) sense from the index files, word -> {(pos, offset): WordNet sense number}
    numbers: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
    synsets: dict[str, dict[int, Synset]] = {}
    for part in pos:
        for lemma, offsets in read_index(root / f"index.{part}").items():
            if tokenize(lemma) == [lemma]:  # one word: no collocations (bank_account), no dots
                for number, offset in enumerate(offsets, 1):
                    numbers[lemma][(part, offset)] = number
        synsets[part] = read_data(root / f"data.{part}", lexnames, examples_only=True)

    def sense(word: str, part: str, synset: Synset) -> WordNetSense:
        number = numbers[word][(part, synset.offset)]
        return WordNetSense(f"{word}.{synset.ss_type}.{number:02d}", word, part, number, synset.offset,
                            synset.lexname, synset.definition)

    # 1. every example that holds one of its synset's one-word words (as a whole word)
    found: dict[tuple[str, ...], list[WordNetExample]] = defaultdict(list)
    stats = Counter()
    for part in pos:
        for synset in synsets[part].values():
            key = (part, synset.offset)
            words = [word for word in dict.fromkeys(synset.words) if key in numbers.get(word, {})]
            for text in synset.examples:
                stats["examples"] += 1
                tokens = tuple(tokenize(text))
                present = set(tokens)
                first = sorted((tokens.index(word), word) for word in words if word in present)
                targets = tuple(sense(word, part, synset) for _, word in first)
                if targets:
                    found[tokens].append(WordNetExample(text, tokens, targets))
    # 2. one sentence per token sequence: repeats within a synset are merged, a sequence found
    #    under two different synsets (conflicting annotations) is dropped
    examples: list[WordNetExample] = []
    for tokens, candidates in found.items():
        if len({(candidate.senses[0].pos, candidate.senses[0].offset) for candidate in candidates}) > 1:
            stats["conflicting_sequences"] += 1
            continue
        stats["repeated_examples"] += len(candidates) - 1
        examples.append(candidates[0])
    stats["with_target"] = len(examples)
    # 3. keep the words with >= 2 annotated senses in >= 2 lexicographer files
    by_word: dict[str, set[WordNetSense]] = defaultdict(set)
    for example in examples:
        for target in example.senses:
            by_word[target.lemma].add(target)
    order = {part: index for index, part in enumerate(PARTS_OF_SPEECH)}
    kept = {
        word: tuple(sorted(senses, key=lambda s: (order[s.pos], s.number)))
        for word, senses in sorted(by_word.items())
        if len(senses) >= 2 and len({s.lexname for s in senses}) >= 2
    }
    final = []
    for example in examples:
        targets = tuple(target for target in example.senses if target.lemma in kept)
        if targets:
            final.append(WordNetExample(example.text, example.tokens, targets))
    return _Extraction(tuple(final), kept, dict(stats))


class WordNetSenseCorpus:
    """Train, validation and test splits of WordNet example sentences annotated with the sense
    of a polysemous target word (see ``docs/data.md`` for every rule and the sizes).

    Each sentence is a WordNet example of a synset that holds one of the synset's words, a
    *target*; ``labels`` is the synset's lexicographer file (its supersense, e.g.
    ``noun.artifact``; ids over the supersenses present, in WordNet's file-number order) and
    ``sense_ids`` holds the target's sense index (its position among the word's kept senses,
    in WordNet sense order) at every occurrence of the target, -100 elsewhere. Targets are
    the one-word lemmas of the chosen parts of speech (``pos``, nouns by default) with >= 2
    senses that have examples, in >= 2 lexicographer files.

    The database is read from ``root``, else ``$QEMBED_WORDNET_DIR``, else
    ``/usr/share/wordnet`` (Debian's ``wordnet-base``). The splits are stratified by (first
    target, sense) and drawn from ``seed``; the vocabulary is the target words plus the words
    seen at least ``min_count`` times in train, other words map to ``[UNK]``.

    ``mark_target`` (default) puts the target word and ``[SEP]`` before the sentence, as
    word-sense models given a sentence and a target do: a sentence holds several nouns, and
    its label is the target's supersense. ``sense_ids`` marks the target in the sentence only.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        root: str | os.PathLike[str] | None = None,
        pos: str | Sequence[str] = "noun",
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        min_count: int = 2,
        add_special_tokens: bool = False,
        mark_target: bool = True,
    ) -> None:
        self.seed = check_int("seed", seed)
        self.root = wordnet_root(root)
        parts = (pos,) if isinstance(pos, str) else tuple(pos)
        unknown = [part for part in parts if part not in PARTS_OF_SPEECH]
        if not parts or unknown or len(set(parts)) != len(parts):
            raise ValueError(f"pos must be distinct names among {list(PARTS_OF_SPEECH)}, got {pos!r}")
        self.pos: tuple[str, ...] = tuple(part for part in PARTS_OF_SPEECH if part in parts)
        val_fraction = check_probability("val_fraction", val_fraction, open_low=False, open_high=True)
        test_fraction = check_probability("test_fraction", test_fraction, open_low=False, open_high=True)
        if val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
            )
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.min_count = check_int("min_count", min_count, minimum=1)
        if not isinstance(add_special_tokens, bool):
            raise TypeError(f"add_special_tokens must be a bool, got {add_special_tokens!r}")
        self.add_special_tokens = add_special_tokens
        if not isinstance(mark_target, bool):
            raise TypeError(f"mark_target must be a bool, got {mark_target!r}")
        self.mark_target = mark_target

        extraction = _extract(self.root, self.pos)
        #: ``word -> its senses`` (:class:`WordNetSense`), index = the sense id of ``sense_ids``.
        self.senses: dict[str, tuple[WordNetSense, ...]] = dict(extraction.senses)
        #: ``word -> the lexicographer file of each sense`` (as ``PolysemyCorpus.ambiguous_words``).
        self.ambiguous_words: dict[str, tuple[str, ...]] = {
            word: tuple(sense.lexname for sense in senses) for word, senses in self.senses.items()
        }
        self.max_senses: int = max(len(senses) for senses in self.senses.values())
        self.extraction_stats: dict[str, int] = dict(extraction.stats)
        lexnames = read_lexnames(self.root.resolve())
        present = {example.lexname for example in extraction.examples}
        self.label_names: list[str] = [name for name in lexnames if name in present]

        assignment = self._assign_splits(extraction.examples)
        #: The source of every sentence, per split, aligned with the dataset's indices.
        self.examples: dict[str, list[WordNetExample]] = {
            name: [example for example, split in zip(extraction.examples, assignment) if split == name]
            for name in _SPLITS
        }
        counts = Counter(token for example in self.examples["train"] for token in example.tokens)
        frequent = sorted(
            (token for token, count in counts.items() if count >= self.min_count and token not in self.senses),
            key=lambda token: (-counts[token], token),
        )
        self.vocab: list[str] = [*SPECIAL_TOKENS, *self.senses, *frequent]
        self.token_to_id: dict[str, int] = {token: index for index, token in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.token_to_id[token] for token in (PAD, UNK, CLS, SEP, MASK)
        )
        self.special_ids: frozenset[int] = frozenset(self.token_to_id[token] for token in SPECIAL_TOKENS)
        self._sense_label_table = torch.full((self.vocab_size, self.max_senses), -1, dtype=torch.long)
        for word, lexnames_of_word in self.ambiguous_words.items():
            self._sense_label_table[self.token_to_id[word], : len(lexnames_of_word)] = torch.tensor(
                [self.label_names.index(name) for name in lexnames_of_word]
            )
        self.train: PolysemyDataset = self._dataset(self.examples["train"])
        self.val: PolysemyDataset = self._dataset(self.examples["val"])
        self.test: PolysemyDataset = self._dataset(self.examples["test"])

    # -- splits -------------------------------------------------------------------

    def _sense_index(self, sense: WordNetSense) -> int:
        return self.senses[sense.lemma].index(sense)

    def _assign_splits(self, examples: Sequence[WordNetExample]) -> list[str]:
        """Each example's split. Per stratum (first target word, its sense) of ``n`` examples,
        in random order: ``floor(n * test_fraction + u)`` to test, then ``floor(n * (test +
        val) + u)`` minus those to val, the rest to train, with ``u`` uniform in [0, 1) per
        stratum (exact expected fractions); a stratum of ``n >= 2`` keeps >= 1 in train. Then
        every (word, sense) of any target with >= 2 examples but none in train gets its first
        example moved to train."""
        rng = random.Random(f"qembed.data.WordNetSenseCorpus:{self.seed}:splits")
        strata: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, example in enumerate(examples):
            first = example.senses[0]
            strata[(first.lemma, self._sense_index(first))].append(index)
        assignment = ["train"] * len(examples)
        for key in sorted(strata):
            members = strata[key]
            rng.shuffle(members)
            n, u = len(members), rng.random()
            num_test = math.floor(n * self.test_fraction + u)
            num_held = min(math.floor(n * (self.test_fraction + self.val_fraction) + u), n)
            if n >= 2 and num_held == n:
                num_held -= 1
                num_test = min(num_test, num_held)
            for rank, index in enumerate(members):
                assignment[index] = "test" if rank < num_test else "val" if rank < num_held else "train"
        by_sense: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, example in enumerate(examples):
            for sense in example.senses:
                by_sense[(sense.lemma, self._sense_index(sense))].append(index)
        for key in sorted(by_sense):
            members = by_sense[key]
            if len(members) >= 2 and all(assignment[index] != "train" for index in members):
                assignment[members[0]] = "train"
        return assignment

    def _dataset(self, examples: Sequence[WordNetExample]) -> PolysemyDataset:
        input_ids, sense_ids, labels, words, senses = [], [], [], [], []
        for example in examples:
            sense_of = {sense.lemma: self._sense_index(sense) for sense in example.senses}
            ids = [self.token_to_id.get(token, self.unk_id) for token in example.tokens]
            marks = [sense_of.get(token, IGNORE_INDEX) for token in example.tokens]
            first = next(position for position, mark in enumerate(marks) if mark != IGNORE_INDEX)
            words.append(ids[first])
            senses.append(marks[first])
            labels.append(self.label_names.index(example.lexname))
            if self.mark_target:  # "bank [SEP] they pulled the canoe up on the bank": which word is asked
                ids, marks = [ids[first], self.sep_id, *ids], [IGNORE_INDEX, IGNORE_INDEX, *marks]
            if self.add_special_tokens:
                ids, marks = [self.cls_id, *ids, self.sep_id], [IGNORE_INDEX, *marks, IGNORE_INDEX]
            input_ids.append(torch.tensor(ids, dtype=torch.long))
            sense_ids.append(torch.tensor(marks, dtype=torch.long))
        count = len(examples)
        return PolysemyDataset(
            input_ids, sense_ids,
            torch.tensor(labels, dtype=torch.long).reshape(count),
            torch.tensor(words, dtype=torch.long).reshape(count),
            torch.tensor(senses, dtype=torch.long).reshape(count),
            torch.full((count,), -1, dtype=torch.long),  # no distractor topic in real sentences
        )

    # -- vocabulary and loaders: as PolysemyCorpus's --------------------------------

    vocab_size = PolysemyCorpus.vocab_size
    num_labels = PolysemyCorpus.num_labels
    ambiguous_ids = PolysemyCorpus.ambiguous_ids
    sense_label_table = PolysemyCorpus.sense_label_table
    decode = PolysemyCorpus.decode
    loaders = PolysemyCorpus.loaders
    mlm_loaders = PolysemyCorpus.mlm_loaders
    task_sequence = PolysemyCorpus.task_sequence

    def encode(self, text: str) -> list[int]:
        """Token ids of :func:`tokenize`'s words of ``text`` (lowercased, punctuation dropped);
        words outside the vocabulary map to ``[UNK]``."""
        return [self.token_to_id.get(token, self.unk_id) for token in tokenize(text)]

    # -- baselines -------------------------------------------------------------------

    def baselines(self, split: str = "test") -> dict[str, float]:
        """Accuracies on ``split`` of answers that ignore the context, fitted on train.

        ``sense_mfs``: every target token gets its word's most frequent sense in train (ties
        and unseen words: the lowest sense index, i.e. WordNet's most frequent), scored like
        :func:`qembed.metrics.sense_accuracy`'s baseline. ``label_mfs``: each sentence gets the
        label of its first target's most frequent train sense. ``label_majority``: the most
        frequent train label for every sentence.
        """
        from qembed.metrics.sense import sense_accuracy

        if split not in _SPLITS:
            raise ValueError(f"split must be one of {list(_SPLITS)}, got {split!r}")
        dataset = getattr(self, split)
        if len(dataset) == 0:
            raise ValueError(f"the {split} split is empty")

        def rows(data: PolysemyDataset) -> torch.Tensor:
            ids = torch.cat([data[i]["input_ids"] for i in range(len(data))])
            senses = torch.cat([data[i]["sense_ids"] for i in range(len(data))])
            marked = senses != IGNORE_INDEX
            return torch.stack([ids[marked], torch.zeros_like(ids[marked]), senses[marked]], dim=1)

        fit = rows(self.train)
        sense_mfs = sense_accuracy(fit, rows(dataset)).baseline
        counts = torch.zeros(self.vocab_size, self.max_senses, dtype=torch.long)
        counts.index_put_((fit[:, 0], fit[:, 2]), torch.ones(len(fit), dtype=torch.long), accumulate=True)
        guessed_sense = counts.argmax(-1)[dataset.words]
        guessed_label = self._sense_label_table[dataset.words, guessed_sense]
        majority = torch.bincount(self.train.labels, minlength=self.num_labels).argmax()
        return {
            "sense_mfs": sense_mfs,
            "label_mfs": (guessed_label == dataset.labels).float().mean().item(),
            "label_majority": (dataset.labels == majority).float().mean().item(),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(seed={self.seed}, pos={self.pos}, train={len(self.train)}, "
            f"val={len(self.val)}, test={len(self.test)}, vocab_size={self.vocab_size}, "
            f"num_labels={self.num_labels}, ambiguous_words={len(self.ambiguous_words)})"
        )

