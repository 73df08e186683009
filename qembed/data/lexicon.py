"""The word lists of the polysemy task and the vocabulary built from them.

A :class:`Lexicon` holds *topics* (each a list of cue words), neutral *filler* words and
*ambiguous* words (each with two or more senses, every sense belonging to a different
topic). :data:`DEFAULT_LEXICON` is the embedded one: 8 topics of 10 cue words, 20 fillers
and 12 ambiguous words with 26 senses.

Vocabulary layout (index = token id): the five special tokens (:data:`SPECIAL_TOKENS`,
ids 0-4), then the cue words topic by topic in topic order, then the fillers, then the
ambiguous words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

#: The special tokens in id order: ``[PAD]`` 0, ``[UNK]`` 1, ``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4.
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = SPECIAL_TOKENS


@dataclass(frozen=True, init=False)
class Lexicon:
    """Topics with their cue words, filler words, and ambiguous words with their senses.

    ``ambiguous[word]`` lists the topic of each sense; the *sense index* is the position
    in that list. Construction checks that all words are distinct single tokens, that
    every sense names a known topic, that a word's senses are in distinct topics and that
    at least one topic is left over as a distractor for every ambiguous word.
    """

    topics: Mapping[str, tuple[str, ...]]
    fillers: tuple[str, ...]
    ambiguous: Mapping[str, tuple[str, ...]]

    def __init__(
        self,
        topics: Mapping[str, Sequence[str]],
        fillers: Sequence[str],
        ambiguous: Mapping[str, Sequence[str]],
    ) -> None:
        topics_ = {str(name): tuple(words) for name, words in topics.items()}
        ambiguous_ = {str(word): tuple(senses) for word, senses in ambiguous.items()}
        fillers_ = tuple(fillers)
        _validate(topics_, fillers_, ambiguous_)
        object.__setattr__(self, "topics", MappingProxyType(topics_))
        object.__setattr__(self, "fillers", fillers_)
        object.__setattr__(self, "ambiguous", MappingProxyType(ambiguous_))

    @property
    def topic_names(self) -> list[str]:
        """Topic names in label-id order."""
        return list(self.topics)

    @property
    def min_cues_per_topic(self) -> int:
        """The number of cue words of the smallest topic."""
        return min(len(words) for words in self.topics.values())

    @property
    def max_senses(self) -> int:
        """The largest number of senses of any ambiguous word."""
        return max(len(senses) for senses in self.ambiguous.values())

    def vocab(self) -> list[str]:
        """The token list (index = id): specials, cue words by topic, fillers, ambiguous words."""
        cues = [word for words in self.topics.values() for word in words]
        return [*SPECIAL_TOKENS, *cues, *self.fillers, *self.ambiguous]


def _validate(
    topics: dict[str, tuple[str, ...]],
    fillers: tuple[str, ...],
    ambiguous: dict[str, tuple[str, ...]],
) -> None:
    if len(topics) < 2:
        raise ValueError(f"topics must hold at least 2 topics, got {len(topics)}")
    if not fillers:
        raise ValueError("fillers must hold at least 1 word, got none")
    if not ambiguous:
        raise ValueError("ambiguous must hold at least 1 word, got none")
    seen: dict[str, str] = {}
    groups = [(f"topic {name!r}", words) for name, words in topics.items()]
    groups += [("fillers", fillers), ("ambiguous", tuple(ambiguous))]
    for where, words in groups:
        if not words:
            raise ValueError(f"{where} must hold at least 1 word, got none")
        for word in words:
            if not isinstance(word, str) or not word or word != word.strip() or len(word.split()) != 1:
                raise ValueError(
                    f"{where}: every word must be a non-empty string without spaces, got {word!r}"
                )
            if word in SPECIAL_TOKENS:
                raise ValueError(f"{where}: {word!r} is a special token")
            if word in seen:
                raise ValueError(f"{where}: word {word!r} is already used in {seen[word]}")
            seen[word] = where
    for word, senses in ambiguous.items():
        if len(senses) < 2:
            raise ValueError(f"ambiguous word {word!r} must have at least 2 senses, got {len(senses)}")
        unknown = [topic for topic in senses if topic not in topics]
        if unknown:
            raise ValueError(
                f"ambiguous word {word!r}: unknown topic(s) {unknown}; topics are {list(topics)}"
            )
        if len(set(senses)) != len(senses):
            raise ValueError(
                f"ambiguous word {word!r}: its senses must be in distinct topics, got {list(senses)}"
            )
        if len(senses) >= len(topics):
            raise ValueError(
                f"ambiguous word {word!r} has a sense in every topic; at least one topic must be "
                "left over as its distractor"
            )


#: The embedded lexicon of the default corpus.
DEFAULT_LEXICON = Lexicon(
    topics={
        "finance": ("money", "loan", "deposit", "interest", "account",
                    "cash", "credit", "teller", "mortgage", "savings"),
        "nature": ("river", "shore", "water", "mud", "grass",
                   "stream", "meadow", "hill", "forest", "rain"),
        "sports": ("ball", "game", "team", "score", "player",
                   "coach", "stadium", "inning", "goal", "referee"),
        "music": ("guitar", "song", "melody", "drum", "concert",
                  "chord", "rhythm", "singer", "tune", "orchestra"),
        "animals": ("fur", "wings", "nest", "tail", "zoo",
                    "prey", "claws", "den", "beast", "habitat"),
        "technology": ("computer", "keyboard", "screen", "software", "laptop",
                       "click", "cable", "digital", "server", "pixel"),
        "cooking": ("oven", "recipe", "kitchen", "bake", "flour",
                    "salt", "stove", "chef", "spoon", "dinner"),
        "medicine": ("doctor", "nurse", "patient", "hospital", "pill",
                     "fever", "clinic", "surgery", "dose", "symptom"),
    },
    fillers=("the", "a", "of", "saw", "near", "and", "with", "by", "was", "then",
             "they", "we", "it", "on", "in", "at", "some", "very", "after", "there"),
    ambiguous={
        "bank": ("finance", "nature"),
        "bat": ("sports", "animals"),
        "bass": ("music", "animals"),
        "mouse": ("animals", "technology"),
        "pitch": ("sports", "music"),
        "chip": ("cooking", "technology", "finance"),
        "cell": ("medicine", "technology"),
        "organ": ("music", "medicine"),
        "batter": ("sports", "cooking"),
        "current": ("nature", "technology"),
        "pound": ("finance", "cooking", "animals"),
        "shot": ("sports", "medicine"),
    },
)
