"""`variable_tracking`: follow chains of variable assignments hidden in a haystack (RULER's VT).

`VAR QKXTZ = 40721.` starts a chain and `VAR MBWPE = VAR QKXTZ.` extends it; the question asks
for every variable that ends up holding the first value. Each statement of a chain lies deeper
in the context than the one before, so a reader must connect sentences far apart, and a runtime
that splits the context cannot resolve a link whose earlier statement went to another part:
the task is multi-hop by construction. Distractor chains hold other values.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle, pairwise
from typing import ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import LIST_SEPARATOR, Decomposition, Example, Query, Sample
from rlm_bench.tasks.combining import join_items
from rlm_bench.tasks.distinct_draws import draw_distinct
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.haystacks import NOISE_SENTENCES, haystack_units
from rlm_bench.tasks.placement import place
from rlm_bench.tasks.ruler_scoring import RulerScoredTask, scorer_text, scoring_option
from rlm_bench.tasks.scoring import all_of
from rlm_bench.tasks.task_base import Generated, option

NAME_LENGTH = 5
VALUE_RANGE = (10_000, 99_999)
ITEM_PATTERN = r"\b[A-Z]{5}\b"
ANSWER_PATTERN = rf"{ITEM_PATTERN}(?:[\s,]+(?:and\s+)?(?:VAR\s+)?{ITEM_PATTERN})*"
"""Names separated by commas, spaces or "and"; a model that repeats "VAR" still parses."""
DEPTH_JITTER = (0.1, 0.9)
"""Where in its stretch of the context each statement falls (see `chain_depths`)."""
MAX_HOPS = 50
MAX_CHAINS = 20
MAX_STATEMENT_SHARE = 0.5
"""Statements may take at most this share of the context; beyond it there is no haystack."""
ANSWER_TOKENS_PER_NAME = 5
EXAMPLE_CHAIN = 3
EXAMPLE_DISTRACTOR = 2


@dataclass(frozen=True)
class Chain:
    value: str
    names: tuple[str, ...]
    depths: tuple[float, ...] = ()
    """Where each statement goes, as a fraction of the haystack; solved examples need none."""

    @property
    def statements(self) -> list[str]:
        first = f"VAR {self.names[0]} = {self.value}."
        return [first, *(f"VAR {b} = VAR {a}." for a, b in pairwise(self.names))]


def draw_names(rng: random.Random, count: int) -> list[str]:
    return draw_distinct(lambda: "".join(rng.choices(string.ascii_uppercase, k=NAME_LENGTH)), count)


def draw_values(rng: random.Random, count: int) -> list[str]:
    return draw_distinct(lambda: str(rng.randint(*VALUE_RANGE)), count)


def chain_depths(rng: random.Random, statements: int) -> tuple[float, ...]:
    """One depth in each of `statements` equal stretches of the context: increasing, so the
    chain reads in order, and spread, so consecutive links are far apart at every length."""
    return tuple((i + rng.uniform(*DEPTH_JITTER)) / statements for i in range(statements))


def resolved_prefix(chain_spans: Sequence[Sequence[int]], start: int, end: int) -> int:
    """How many variables of a chain a reader of [start, end) alone can resolve: links count
    until the first statement outside the span, since every later one depends on it."""
    resolved = 0
    for s, e in chain_spans:
        if not (start <= s and e <= end):
            break
        resolved += 1
    return resolved


def _interleave(rng: random.Random, chains: list[list[str]]) -> list[str]:
    """The statements of several chains merged at random, each chain keeping its order."""
    queues = [list(chain) for chain in chains if chain]
    merged: list[str] = []
    while queues:
        queue = rng.choices(queues, weights=[len(q) for q in queues])[0]
        merged.append(queue.pop(0))
        queues = [q for q in queues if q]
    return merged


def _noise_text(rng: random.Random, statements: list[str]) -> str:
    """A short RULER noise text with one noise sentence before, between and after statements."""
    start = rng.randrange(len(NOISE_SENTENCES))
    noise = cycle(NOISE_SENTENCES[start:] + NOISE_SENTENCES[:start])
    sentences = [next(noise)]
    for statement in statements:
        sentences += [statement, next(noise)]
    return " ".join(sentences)


def make_examples(
    rng: random.Random, value: str, names: list[str], other_values: list[str]
) -> tuple[Example, ...]:
    """Two solved noise texts, in random order: one where a chain holds the asked value beside
    a distractor, one where only a distractor is present ("none"), which is what most parts of
    a split context look like."""
    asked = Chain(value, tuple(names[:EXAMPLE_CHAIN]))
    rest = names[EXAMPLE_CHAIN:]
    first = Chain(other_values[0], tuple(rest[:EXAMPLE_DISTRACTOR]))
    second = Chain(other_values[1], tuple(rest[EXAMPLE_DISTRACTOR : 2 * EXAMPLE_DISTRACTOR]))
    examples = [
        Example(
            _noise_text(rng, _interleave(rng, [asked.statements, first.statements])),
            LIST_SEPARATOR.join(asked.names),
        ),
        Example(_noise_text(rng, second.statements), join_items([])),
    ]
    rng.shuffle(examples)
    return tuple(examples)


@dataclass(frozen=True)
class VariableTrackingOptions:
    haystack: str = "noise"
    structure: str = "coherent"
    hops: int = option(4, between=(1, MAX_HOPS))
    chains: int = option(2, between=(1, MAX_CHAINS))
    scoring: str = scoring_option()


@TASKS.register("variable_tracking")
class VariableTracking(RulerScoredTask):
    name = "variable_tracking"
    description = "RULER's variable tracking: name every variable a chain of assignments binds"
    scorer = scorer_text(
        "every variable of the chain named in the parsed answer, all or nothing",
        "the fraction of the variables contained anywhere in the reply",
    )
    Options: ClassVar[type] = VariableTrackingOptions
    exact_decomposition = False

    def haystack(self, rng: random.Random) -> Iterator[str]:
        return haystack_units(self.options.haystack, self.options.structure, rng)

    def query(self, value: str, examples: tuple[Example, ...]) -> Query:
        return Query(
            question=f"Find all variables that are assigned the value {value} in the text above.",
            answer_prefix=(
                "According to the chain of variable assignments in the text above, "
                f"the variables assigned the value {value} are:"
            ),
            answer_pattern=ANSWER_PATTERN,
            item_pattern=ITEM_PATTERN,
            examples=examples,
            max_tokens=ANSWER_TOKENS_PER_NAME * (self.options.hops + 1) + 8,
        )

    def draw_chains(self, rng: random.Random, names: list[str], values: list[str]) -> list[Chain]:
        size = self.options.hops + 1
        return [
            Chain(value, tuple(names[i * size : (i + 1) * size]), chain_depths(rng, size))
            for i, value in enumerate(values)
        ]

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        options = self.options
        size = options.hops + 1
        example_names = EXAMPLE_CHAIN + 2 * EXAMPLE_DISTRACTOR
        # Everything is drawn before the haystack, so variants with another haystack ask about
        # the same chains.
        names = draw_names(rng, options.chains * size + example_names)
        values = draw_values(rng, options.chains + 2)
        chains = self.draw_chains(rng, names[: options.chains * size], values[: options.chains])
        examples = make_examples(rng, values[0], names[options.chains * size :], values[-2:])
        # In order of depth, which keeps each chain in order even where a short haystack puts
        # two of its statements at one boundary.
        placed = sorted((d, s) for c in chains for d, s in zip(c.depths, c.statements, strict=True))
        reserved = sum(self.tokenizer.count_many([" " + s for _, s in placed]))
        if reserved > MAX_STATEMENT_SHARE * length:
            raise UserError(
                f"task {self.label}: {length} tokens are too few for {len(placed)} statements "
                f"({reserved} tokens); use fewer hops or chains, or a longer length"
            )
        fitted = fit_units(
            self.haystack(rng),
            length,
            self.tokenizer,
            reserved=reserved,
            assemble=lambda units: join_units(place(units, placed)),
        )
        located = [_locate(fitted.text, chain) for chain in chains]
        query, decomposition = self.scored(
            self.query(values[0], examples), Decomposition(combine="union")
        )
        return Generated(
            context=fitted.text,
            actual_length=fitted.tokens,
            query=query,
            answer=LIST_SEPARATOR.join(chains[0].names),
            decomposition=decomposition,
            metadata={
                "value": values[0],
                "variables": list(chains[0].names),
                "chains": [
                    {"value": c.value, "variables": list(c.names), "spans": spans}
                    for c, spans in zip(chains, located, strict=True)
                ],
                "spans": sorted(span for spans in located for span in spans),
                "hops": options.hops,
                "haystack": options.haystack,
                "structure": options.structure,
            },
        )

    def strict_score(self, prediction: str | None, sample: Sample) -> float:
        return all_of(prediction, sample.answer.split(LIST_SEPARATOR), ITEM_PATTERN)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        asked = sample.metadata["chains"][0]
        resolved = resolved_prefix(asked["spans"], start, end)
        return join_items(asked["variables"][:resolved])


def _locate(text: str, chain: Chain) -> list[list[int]]:
    spans = []
    for statement in chain.statements:
        start = text.index(statement)
        spans.append([start, start + len(statement)])
    return spans
