"""`common_words`: name the k words that appear most often in a long word list (RULER's CWE).

Every line matters: a word's rank is a count over the whole list, so the answer cannot be found
by skimming, and a runtime that splits the list can only vote with its parts' top words.

The list is made of shuffled blocks, each holding every common word once and `m` uncommon words
taken in turn from the rest of the vocabulary. A common word then appears once per block while an
uncommon one appears about `m / (V - k)` times per block, so the common words lead at every length
by construction (and the result is checked after fitting, because fitting trades a few lines at
the end). `m` shrinks for short lists, so that even 1K tokens hold several blocks.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, islice
from typing import ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import LIST_SEPARATOR, Decomposition, Example, Query, Sample
from rlm_bench.tasks.combining import join_items
from rlm_bench.tasks.fitting import fit_units
from rlm_bench.tasks.ruler_scoring import RulerScoredTask, scorer_text, scoring_option
from rlm_bench.tasks.scoring import recall
from rlm_bench.tasks.task_base import Generated, option
from rlm_bench.tasks.vocabulary import VOCABULARY

ITEM_PATTERN = r"\b[a-z]+\b"
ANSWER_PATTERN = rf"{ITEM_PATTERN}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+){ITEM_PATTERN})*"
"""Words separated by commas or "and"."""
MAX_K = 50
SEPARATION = 5
"""At long lengths an uncommon word appears about 1/SEPARATION as often as a common one."""
MIN_BLOCKS = 8
"""Short lists get smaller blocks, so each common word still appears about this many times."""
ANSWER_TOKENS_PER_WORD = 4
EXAMPLE_REPEATS = 3
"""How often each common word of the solved example appears; every other word appears once."""


def top_words(words: Iterable[str], k: int) -> list[str]:
    """The k most frequent words; a Counter keeps first-appearance order and `sorted` is stable,
    so ties go to the word that appeared first."""
    counts = Counter(words)
    return sorted(counts, key=lambda word: -counts[word])[:k]


def _endless_shuffles(rng: random.Random, words: Sequence[str]) -> Iterator[str]:
    """Every word once per round, so no uncommon word gets ahead of another by more than one."""
    pool = list(words)
    while True:
        rng.shuffle(pool)
        yield from pool


def word_lines(
    rng: random.Random, common: Sequence[str], uncommon: Sequence[str], per_block: int
) -> Iterator[str]:
    """Endless lines (each with its leading newline), in shuffled blocks of every common word
    and `per_block` uncommon ones."""
    common_lines = ["\n" + word for word in common]
    rounds = _endless_shuffles(rng, ["\n" + word for word in uncommon])
    while True:
        block = [*common_lines, *islice(rounds, per_block)]
        rng.shuffle(block)
        yield from block


def solved_example(rng: random.Random, pool: Sequence[str], k: int) -> Example:
    """A short list in the same format, with its answer written on the answer line: zero-shot,
    the base model starts its answer with a line break, which ends it empty. Its words come
    from the sample's uncommon ones, so copying the example answer scores nothing."""
    words = rng.sample(list(pool), 3 * k)
    common, rare = words[:k], words[k:]
    lines = [*(word for word in common for _ in range(EXAMPLE_REPEATS)), *rare]
    rng.shuffle(lines)
    return Example("\n".join(lines), LIST_SEPARATOR.join(top_words(lines, k)))


def whole_lines(context: str, start: int, end: int) -> list[str]:
    """The lines of `context` lying wholly (without their newline) inside [start, end)."""
    if start > 0 and context[start - 1] != "\n":
        start = context.find("\n", start, end) + 1
        if start == 0:
            return []
    if end < len(context) and context[end] != "\n":
        end = context.rfind("\n", start, end)
    if end <= start:
        return []
    return context[start:end].split("\n")


def check_separation(counts: Counter[str], common: Sequence[str]) -> None:
    """Fail loudly rather than ask a question whose answer is not the planted words."""
    wanted = set(common)
    least_common = min(counts[word] for word in common)
    most_uncommon = max((n for word, n in counts.items() if word not in wanted), default=0)
    if least_common <= most_uncommon:
        raise RuntimeError(
            f"common words not separated: a common word appears {least_common} times, "
            f"an uncommon one {most_uncommon} times"
        )


@dataclass(frozen=True)
class CommonWordsOptions:
    k: int = option(10, between=(1, MAX_K))
    scoring: str = scoring_option()


@TASKS.register("common_words")
class CommonWords(RulerScoredTask):
    name = "common_words"
    description = "RULER's common words: name the k most frequent words of a long word list"
    scorer = scorer_text(
        "recall: the fraction of the k words named as words of the parsed answer",
        "the fraction of the k words contained anywhere in the reply, inside longer words too",
    )
    Options: ClassVar[type] = CommonWordsOptions
    exact_decomposition = False

    @cached_property
    def _line_tokens(self) -> dict[str, int]:
        lines = ["\n" + word for word in VOCABULARY]
        return dict(zip(lines, self.tokenizer.count_many(lines), strict=True))

    def uncommon_per_block(self, length: int) -> int:
        k = self.options.k
        mean_tokens = sum(self._line_tokens.values()) / len(self._line_tokens)
        fitting = int(length / mean_tokens) // MIN_BLOCKS - k
        per_block = min((len(VOCABULARY) - k) // SEPARATION, fitting)
        if per_block < 1:
            raise UserError(
                f"task {self.label}: {length} tokens are too few for {k} common words "
                f"(about {int((k + 1) * MIN_BLOCKS * mean_tokens) + 1} needed)"
            )
        return per_block

    def query(self, example: Example) -> Query:
        k = self.options.k
        if k == 1:
            question = "What is the most common word in the list above?"
            prefix = "The most common word in the list above is:"
        else:
            question = f"What are the {k} most common words in the list above?"
            prefix = f"The {k} most common words in the list above are:"
        return Query(
            question=question,
            answer_prefix=prefix,
            answer_pattern=ANSWER_PATTERN,
            item_pattern=ITEM_PATTERN,
            examples=(example,),
            max_tokens=ANSWER_TOKENS_PER_WORD * k + 8,
        )

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        k = self.options.k
        per_block = self.uncommon_per_block(length)
        order = rng.sample(VOCABULARY, len(VOCABULARY))
        common, uncommon = order[:k], order[k:]
        fitted = fit_units(
            word_lines(rng, common, uncommon, per_block),
            length,
            self.tokenizer,
        )
        words = fitted.text.split("\n")
        counts = Counter(words)
        check_separation(counts, common)
        answer = top_words(words, k)
        starts = accumulate((len(word) + 1 for word in words), initial=0)
        query, decomposition = self.scored(
            self.query(solved_example(rng, uncommon, k)),
            Decomposition(combine="vote", finish="top", keep=k),
        )
        return Generated(
            context=fitted.text,
            actual_length=fitted.tokens,
            query=query,
            answer=LIST_SEPARATOR.join(answer),
            decomposition=decomposition,
            metadata={
                "k": k,
                "common_words": answer,
                "common_counts": [counts[word] for word in answer],
                "max_uncommon_count": max(counts[word] for word in uncommon),
                "uncommon_per_block": per_block,
                "lines": len(words),
                "spans": [[s, s + len(word)] for s, word in zip(starts, words, strict=False)],
            },
        )

    def strict_score(self, prediction: str | None, sample: Sample) -> float:
        return recall(prediction, sample.answer.split(LIST_SEPARATOR), ITEM_PATTERN)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        """Counted over the lines wholly inside the span, as a part that sees only them would."""
        lines = whole_lines(sample.context, start, end)
        return join_items(top_words(lines, sample.metadata["k"]))
