"""Synthetic log records, one per line:
"id 482113 | user: maria | date: 2024-03-17 | category: travel".

Each sample draws its own skewed category frequencies, so the asked-about count varies widely
from sample to sample instead of hovering around length / number of categories. Tasks that add
up a quantity give each record an amount before its category ("... | amount: 7 | category:
travel"), so the category stays the last field of every line in every task.

With implicit labels (`labels="implicit"`) the last field is a note instead, from which the
category is inferred ("... | note: tuned the cello before the wedding gig"; see
`record_notes.py`); the explicit records and their random draws are unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from rlm_bench.tasks.record_notes import category_of_note, closest_note, draw_note

CATEGORIES = (
    "travel", "food", "sports", "music", "finance", "health", "education", "shopping",
)  # fmt: skip
USERS = (
    "maria", "james", "aisha", "wei", "olga", "pedro", "fatima", "liam", "yuki", "noah",
    "elena", "omar", "sofia", "ivan", "priya", "lucas", "amara", "hana", "diego", "nina",
    "bartholomew", "oluwaseun", "anastasia", "thandiwe", "xiomara", "siobhan", "evangeline",
    "maximilian", "guadalupe", "svetlana",
)  # fmt: skip
"""Short and long names, so records differ in size by a few tokens and the length fitter can
trade one record for another to land on the exact target."""
FIRST_DAY = date(2020, 1, 1).toordinal()
DAYS = date(2024, 12, 31).toordinal() - FIRST_DAY + 1
ID_RANGE = (100_000, 999_999)
AMOUNT_RANGE = (1, 9)
"""One digit, so an amount is one token and a sum stays a sum of small numbers."""
FIELD_SEPARATOR = " | "
CATEGORY_FIELD = " | category: "
NOTE_FIELD = " | note: "
LABEL_STYLES = ("explicit", "implicit")
IMPLICIT_PREAMBLE = (
    "Records have no category field: each one's category ({categories}) is what its note is about. "
)


@dataclass(frozen=True)
class Record:
    user: str
    category: str
    amount: int | None


def label_of(line: str) -> str:
    _, explicit, category = line.rpartition(CATEGORY_FIELD)
    return category if explicit else category_of_note(line.rsplit(NOTE_FIELD, 1)[1])


def relabel(line: str, category: str) -> str:
    """The record with another category: the field replaced, or the note replaced by one of
    `category` of about the same length."""
    head, explicit, _ = line.rpartition(CATEGORY_FIELD)
    if explicit:
        return head + explicit + category
    head, _, note = line.rpartition(NOTE_FIELD)
    return head + NOTE_FIELD + closest_note(category, len(note))


def parse_record(line: str) -> Record:
    """The fields a task's gold answer depends on, read back from the text itself, so the gold
    describes what the fitted context holds rather than what the generator meant to write."""
    fields = dict(part.split(": ", 1) for part in line.split(FIELD_SEPARATOR)[1:])
    amount = fields.get("amount")
    category = fields.get("category") or category_of_note(fields["note"])
    return Record(fields["user"], category, int(amount) if amount else None)


def ask(question: str, labels: str) -> str:
    """The question as a reader of records of this label style needs it."""
    if labels == "explicit":
        return question
    return IMPLICIT_PREAMBLE.format(categories=", ".join(CATEGORIES)) + question


def draw_weights(rng: random.Random) -> list[float]:
    """Exponential weights give a few common categories and a long tail of rare ones."""
    return [rng.expovariate(1.0) for _ in CATEGORIES]


class RecordMaker:
    """Records with ids unique within a sample, so no two lines are the same.

    `weights` (one per category in `CATEGORIES`, drawn when not given) skew the categories of
    `units`; `amounts` adds an amount field to every record; `labels` is "explicit" (a category
    field) or "implicit" (a note to infer it from)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        weights: Sequence[float] | None = None,
        amounts: bool = False,
        labels: str = "explicit",
    ) -> None:
        self._rng = rng
        self._weights = list(weights) if weights is not None else draw_weights(rng)
        self._amounts = amounts
        self._labels = labels
        self._used_ids: set[int] = set()

    def category(self) -> str:
        return self._rng.choices(CATEGORIES, weights=self._weights)[0]

    def record(self, category: str, user: str | None = None) -> str:
        rng = self._rng
        record_id = rng.randint(*ID_RANGE)
        while record_id in self._used_ids:
            record_id = rng.randint(*ID_RANGE)
        self._used_ids.add(record_id)
        day = date.fromordinal(FIRST_DAY + rng.randrange(DAYS)).isoformat()
        user = user or rng.choice(USERS)
        amount = f"{FIELD_SEPARATOR}amount: {rng.randint(*AMOUNT_RANGE)}" if self._amounts else ""
        if self._labels == "explicit":
            label = CATEGORY_FIELD + category
        else:
            label = NOTE_FIELD + draw_note(rng, category)
        return f"id {record_id} | user: {user} | date: {day}{amount}{label}"

    def units(self) -> Iterator[str]:
        """Endless record lines, each with its leading newline (see `fitting.join_units`)."""
        while True:
            yield "\n" + self.record(self.category())
