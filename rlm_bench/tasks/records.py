"""Synthetic log records, one per line:
"id 482113 | user: maria | date: 2024-03-17 | category: travel".

Each sample draws its own skewed category frequencies, so the asked-about count varies widely
from sample to sample instead of hovering around length / number of categories. Tasks that add
up a quantity give each record an amount before its category ("... | amount: 7 | category:
travel"), so the category stays the last field of every line in every task.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class Record:
    user: str
    category: str
    amount: int | None


def label_of(line: str) -> str:
    return line.rsplit(CATEGORY_FIELD, 1)[1]


def parse_record(line: str) -> Record:
    """The fields a task's gold answer depends on, read back from the text itself, so the gold
    describes what the fitted context holds rather than what the generator meant to write."""
    fields = dict(part.split(": ", 1) for part in line.split(FIELD_SEPARATOR)[1:])
    amount = fields.get("amount")
    return Record(fields["user"], fields["category"], int(amount) if amount else None)


def draw_weights(rng: random.Random) -> list[float]:
    """Exponential weights give a few common categories and a long tail of rare ones."""
    return [rng.expovariate(1.0) for _ in CATEGORIES]


class RecordMaker:
    """Records with ids unique within a sample, so no two lines are the same.

    `weights` (one per category in `CATEGORIES`, drawn when not given) skew the categories of
    `units`; `amounts` adds an amount field to every record."""

    def __init__(
        self,
        rng: random.Random,
        *,
        weights: Sequence[float] | None = None,
        amounts: bool = False,
    ) -> None:
        self._rng = rng
        self._weights = list(weights) if weights is not None else draw_weights(rng)
        self._amounts = amounts
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
        return f"id {record_id} | user: {user} | date: {day}{amount}{CATEGORY_FIELD}{category}"

    def units(self) -> Iterator[str]:
        """Endless record lines, each with its leading newline (see `fitting.join_units`)."""
        while True:
            yield "\n" + self.record(self.category())
