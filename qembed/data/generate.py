"""Sentence generation for the polysemy task (the generative process of ``docs/data.md``).

One sentence:

1. pick an ambiguous word ``w`` uniformly, then one of its senses ``s`` uniformly; the
   sentence label is the topic of that sense;
2. pick a *distractor* topic uniformly among the topics in which ``w`` has no sense;
3. pick ``k`` uniformly in ``[min_cues, max_cues]`` and a length ``L`` uniformly in
   ``[min_length, max_length]``; with probability ``repeat_probability`` the sentence
   holds ``w`` twice (same sense);
4. take ``k`` distinct cue words of the label topic, ``k`` distinct cue words of the
   distractor topic and filler words (drawn with replacement) up to ``L`` tokens in all,
   shuffle them, then insert ``w`` (and its repeat) at uniformly random positions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from qembed.data.lexicon import Lexicon

#: The ``sense_ids`` value of a token that is not an ambiguous word (PyTorch's ignore index).
IGNORE_INDEX = -100


@dataclass(frozen=True)
class GenerationConfig:
    """The knobs of the generative process (validated by :class:`~qembed.data.PolysemyCorpus`)."""

    min_length: int = 8
    max_length: int = 24
    min_cues: int = 2
    max_cues: int = 3
    repeat_probability: float = 0.25
    add_special_tokens: bool = False

    @property
    def min_content(self) -> int:
        """The fewest words a sentence must hold: ``w``, its possible repeat and ``2 * max_cues`` cues."""
        return 1 + (1 if self.repeat_probability > 0 else 0) + 2 * self.max_cues


@dataclass(frozen=True)
class GeneratedSplit:
    """The columns of one generated split (``N`` sentences)."""

    input_ids: list[torch.Tensor]
    sense_ids: list[torch.Tensor]
    labels: torch.Tensor  # Long[N], topic id of the ground-truth sense
    words: torch.Tensor  # Long[N], token id of the sentence's ambiguous word
    senses: torch.Tensor  # Long[N], ground-truth sense index of that word
    distractors: torch.Tensor  # Long[N], topic id of the distractor cue words


def generate_split(
    lexicon: Lexicon,
    token_to_id: dict[str, int],
    config: GenerationConfig,
    num_sentences: int,
    rng: random.Random,
    *,
    cls_id: int,
    sep_id: int,
) -> GeneratedSplit:
    """Generate ``num_sentences`` sentences, drawing every random choice from ``rng``."""
    topic_names = lexicon.topic_names
    topic_index = {name: index for index, name in enumerate(topic_names)}
    cue_ids = [[token_to_id[word] for word in lexicon.topics[name]] for name in topic_names]
    filler_ids = [token_to_id[word] for word in lexicon.fillers]
    words = list(lexicon.ambiguous)
    word_ids = [token_to_id[word] for word in words]
    sense_topics = [[topic_index[topic] for topic in lexicon.ambiguous[word]] for word in words]
    distractor_choices = [
        [index for index in range(len(topic_names)) if index not in senses] for senses in sense_topics
    ]

    flat_tokens: list[int] = []
    flat_senses: list[int] = []
    lengths: list[int] = []
    labels: list[int] = []
    chosen_words: list[int] = []
    chosen_senses: list[int] = []
    distractors: list[int] = []
    for _ in range(num_sentences):
        word = rng.randrange(len(words))
        sense = rng.randrange(len(sense_topics[word]))
        label = sense_topics[word][sense]
        distractor = rng.choice(distractor_choices[word])
        num_cues = rng.randint(config.min_cues, config.max_cues)
        length = rng.randint(config.min_length, config.max_length)
        occurrences = 2 if rng.random() < config.repeat_probability else 1
        body = rng.sample(cue_ids[label], num_cues) + rng.sample(cue_ids[distractor], num_cues)
        body += rng.choices(filler_ids, k=length - occurrences - 2 * num_cues)
        rng.shuffle(body)
        senses = [IGNORE_INDEX] * len(body)
        for _ in range(occurrences):
            position = rng.randint(0, len(body))
            body.insert(position, word_ids[word])
            senses.insert(position, sense)
        if config.add_special_tokens:
            body = [cls_id, *body, sep_id]
            senses = [IGNORE_INDEX, *senses, IGNORE_INDEX]
        flat_tokens += body
        flat_senses += senses
        lengths.append(len(body))
        labels.append(label)
        chosen_words.append(word_ids[word])
        chosen_senses.append(sense)
        distractors.append(distractor)

    return GeneratedSplit(
        # each sentence owns its storage: a view would pickle the whole split with it (for
        # DataLoader workers, Ray trials), 4 GB for the default corpus
        input_ids=[ids.clone() for ids in torch.tensor(flat_tokens, dtype=torch.long).split(lengths)],
        sense_ids=[ids.clone() for ids in torch.tensor(flat_senses, dtype=torch.long).split(lengths)],
        labels=torch.tensor(labels, dtype=torch.long),
        words=torch.tensor(chosen_words, dtype=torch.long),
        senses=torch.tensor(chosen_senses, dtype=torch.long),
        distractors=torch.tensor(distractors, dtype=torch.long),
    )
