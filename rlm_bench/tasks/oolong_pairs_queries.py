"""The 20 OOLONG-Pairs questions, verbatim from the RLM paper (Zhang, Kraska and Khattab, arXiv
2512.24601: Appendix E.1 "OOLONG-Pairs Benchmark" of v1, Appendix D.1 of v2), and the rule each
one states, so the gold pairs are computed from a window's labels rather than read from a table.

Every question is "In the above data, list all pairs of user IDs (no duplicate pairs, list lower
ID first) " + its condition + ". " + `LABEL_SENTENCE` + " " + `FORMAT_SENTENCE`. The conditions
come in three kinds: both users have an instance of one of two labels (tasks 1-3, 6, 8); the
same with every instance of one of them dated before or after a day (4, 5, 7, 9, 10); and one
user meeting one set of label counts while the other meets another (11-20).

Two readings the paper leaves open, applied to every question alike: a date condition on a
label holds for a user with no instance of that label; and "one user ..., the other ..." is
unordered, so (u, v) qualifies when u meets the first condition and v the second, or the other
way round. "After" and "before" are strict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import combinations

PREFIX = "In the above data, list all pairs of user IDs (no duplicate pairs, list lower ID first) "
LABEL_SENTENCE = (
    "Each of the questions can be labelled as one of the labels (the data does not provide the "
    "labels, you need to figure out the label from the semantics of the question): description "
    "and abstract concept, entity, human being, numeric value, location, abbreviation."
)
FORMAT_SENTENCE = (
    "In your answer, list all pairs in the format (user_id_1, user_id_2), separated by newlines."
)
BOTH_HAVE = "where both users have at least one instance with "

DESC, ENTITY, HUMAN = "description and abstract concept", "entity", "human being"
NUMBER, PLACE, ABBREVIATION = "numeric value", "location", "abbreviation"
LABELS = (DESC, ENTITY, HUMAN, NUMBER, PLACE, ABBREVIATION)
"""trec_coarse's six labels, as OOLONG writes them."""


@dataclass(frozen=True)
class Entry:
    """One labelled line of a window: who asked, what kind of question, when."""

    user: str
    label: str
    day: date


@dataclass(frozen=True)
class Count:
    """At least (or, with `exactly`, exactly) `n` instances with `label`."""

    label: str
    n: int = 1
    exactly: bool = False

    def holds(self, tally: Counter[str]) -> bool:
        return tally[self.label] == self.n if self.exactly else tally[self.label] >= self.n


@dataclass(frozen=True)
class Dated:
    """Every instance with `label` before (`after=False`) or after `day`."""

    label: str
    after: bool
    day: date

    def holds(self, days: Iterable[date]) -> bool:
        return all(d > self.day if self.after else d < self.day for d in days)


@dataclass(frozen=True)
class PairQuery:
    number: int
    condition: str
    """The paper's wording, between `PREFIX` and the label sentence."""
    either: tuple[str, ...] = ()
    """Both users have an instance with one of these labels (and meet `dated`)."""
    dated: Dated | None = None
    one: tuple[Count, ...] = ()
    other: tuple[Count, ...] = ()
    """One user meets every count of `one`, the other every count of `other`."""

    @property
    def symmetric(self) -> bool:
        """Whether a pair is any two users who each qualify on their own."""
        return bool(self.either)

    @property
    def per_user(self) -> bool:
        """Whether a user qualifies by one instance alone, so any part holding it can tell: true
        of the undated both-users questions, whose parts can then be asked for the users and the
        pairs formed once, at the root."""
        return self.symmetric and self.dated is None

    def text(self, format_sentence: str = FORMAT_SENTENCE) -> str:
        return f"{PREFIX}{self.condition}. {LABEL_SENTENCE} {format_sentence}"

    def users_text(self, format_sentence: str) -> str:
        """The question a part is asked when `per_user`: which users qualify."""
        labels = self.condition.removeprefix(BOTH_HAVE)
        return (
            f"In the above data, list all user IDs that have at least one instance with {labels}. "
            f"{LABEL_SENTENCE} {format_sentence}"
        )


def _both(number: int, *labels: str, dated: Dated | None = None, wording: str) -> PairQuery:
    return PairQuery(number, BOTH_HAVE + wording, either=labels, dated=dated)


def _exactly(label: str, n: int = 1) -> Count:
    return Count(label, n, exactly=True)


QUERIES: tuple[PairQuery, ...] = (
    _both(1, NUMBER, PLACE, wording="a numeric value or location"),
    _both(2, ENTITY, HUMAN, wording="an entity or human being"),
    _both(3, DESC, ABBREVIATION, wording="a description and abstract concept or abbreviation"),
    _both(4, HUMAN, PLACE, dated=Dated(HUMAN, True, date(2023, 1, 6)),
          wording="a human being or location, and all instances that are a human being for both "
          "users must be after January 6, 2023"),
    _both(5, ENTITY, NUMBER, dated=Dated(ENTITY, False, date(2023, 3, 15)),
          wording="an entity or numeric value, and all instances that are an entity for both "
          "users must be before March 15, 2023"),
    _both(6, PLACE, ABBREVIATION, wording="a location or abbreviation"),
    _both(7, DESC, NUMBER, dated=Dated(NUMBER, True, date(2023, 2, 1)),
          wording="a description and abstract concept or numeric value, and all instances that "
          "are a numeric value for both users must be after February 1, 2023"),
    _both(8, HUMAN, DESC, wording="a human being or description and abstract concept"),
    _both(9, ENTITY, PLACE, dated=Dated(PLACE, True, date(2023, 4, 10)),
          wording="an entity or location, and all instances that are a location for both users "
          "must be after April 10, 2023"),
    _both(10, NUMBER, ABBREVIATION, dated=Dated(ABBREVIATION, False, date(2023, 5, 20)),
          wording="a numeric value or abbreviation, and all instances that are an abbreviation "
          "for both users must be before May 20, 2023"),
    PairQuery(11, "such that one user has at least one instance with entity and one with "
              "abbreviation, and the other user has exactly one instance with entity",
              one=(Count(ENTITY), Count(ABBREVIATION)), other=(_exactly(ENTITY),)),
    PairQuery(12, "such that one user has at least two instances with numeric value, and the "
              "other user has at least one instance with location and at least one instance "
              "with human being",
              one=(Count(NUMBER, 2),), other=(Count(PLACE), Count(HUMAN))),
    PairQuery(13, "such that one user has exactly one instance with description and abstract "
              "concept, and the other user has at least one instance with abbreviation and at "
              "least one instance with entity",
              one=(_exactly(DESC),), other=(Count(ABBREVIATION), Count(ENTITY))),
    PairQuery(14, "such that one user has at least one instance with human being and at least "
              "one instance with numeric value, and the other user has exactly two instances "
              "with location",
              one=(Count(HUMAN), Count(NUMBER)), other=(_exactly(PLACE, 2),)),
    PairQuery(15, "such that one user has at least one instance with entity, at least one "
              "instance with location, and at least one instance with abbreviation, and the "
              "other user has exactly one instance with numeric value",
              one=(Count(ENTITY), Count(PLACE), Count(ABBREVIATION)), other=(_exactly(NUMBER),)),
    PairQuery(16, "such that one user has at least one instance with description and abstract "
              "concept and at least one instance with human being, and the other user has at "
              "least two instances with entity and exactly one instance with abbreviation",
              one=(Count(DESC), Count(HUMAN)), other=(Count(ENTITY, 2), _exactly(ABBREVIATION))),
    PairQuery(17, "such that one user has exactly one instance with numeric value, and the other "
              "user has at least one instance with location and at least one instance with "
              "description and abstract concept",
              one=(_exactly(NUMBER),), other=(Count(PLACE), Count(DESC))),
    PairQuery(18, "such that one user has at least one instance with abbreviation and exactly "
              "one instance with human being, and the other user has at least one instance with "
              "entity and at least one instance with numeric value",
              one=(Count(ABBREVIATION), _exactly(HUMAN)), other=(Count(ENTITY), Count(NUMBER))),
    PairQuery(19, "such that one user has at least two instances with location and at least one "
              "instance with entity, and the other user has exactly one instance with "
              "description and abstract concept and exactly one instance with abbreviation",
              one=(Count(PLACE, 2), Count(ENTITY)), other=(_exactly(DESC), _exactly(ABBREVIATION))),
    PairQuery(20, "such that one user has at least one instance with numeric value and at least "
              "one instance with human being, and the other user has at least one instance with "
              "location, at least one instance with entity, and exactly one instance with "
              "abbreviation",
              one=(Count(NUMBER), Count(HUMAN)),
              other=(Count(PLACE), Count(ENTITY), _exactly(ABBREVIATION))),
)  # fmt: skip


def qualifies(query: PairQuery, entries: Sequence[Entry]) -> bool:
    """Whether one user, with these instances, qualifies for a symmetric question."""
    if not any(e.label in query.either for e in entries):
        return False
    dated = query.dated
    return dated is None or dated.holds(e.day for e in entries if e.label == dated.label)


def by_user(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Each user's instances, users in order of first appearance."""
    users: dict[str, list[Entry]] = {}
    for entry in entries:
        users.setdefault(entry.user, []).append(entry)
    return users


def qualifying_users(query: PairQuery, entries: Iterable[Entry]) -> list[str]:
    """The users of a symmetric question who qualify, in order of first appearance."""
    return [user for user, own in by_user(entries).items() if qualifies(query, own)]


def gold_pairs(query: PairQuery, entries: Iterable[Entry]) -> set[tuple[str, str]]:
    """Every unordered pair of distinct users the question asks for, each as (lower, higher) in
    string order, the order `combining.finish` writes pairs in."""
    if query.symmetric:
        return set(combinations(sorted(qualifying_users(query, entries)), 2))
    tallies = {user: Counter(e.label for e in own) for user, own in by_user(entries).items()}
    first = [u for u, tally in tallies.items() if all(c.holds(tally) for c in query.one)]
    second = [u for u, tally in tallies.items() if all(c.holds(tally) for c in query.other)]
    return {(min(u, v), max(u, v)) for u in first for v in second if u != v}
