"""Synthetic log records, one per line:
"id 482113 | user: maria | date: 2024-03-17 | category: travel".

Each sample draws its own skewed category frequencies, so the asked-about count varies widely
from sample to sample instead of hovering around length / number of categories.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
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
CATEGORY_FIELD = " | category: "


def label_of(line: str) -> str:
    return line.rsplit(CATEGORY_FIELD, 1)[1]


class RecordMaker:
    """Records with ids unique within a sample, so no two lines are the same."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._weights = [rng.expovariate(1.0) for _ in CATEGORIES]
        self._used_ids: set[int] = set()

    def category(self) -> str:
        return self._rng.choices(CATEGORIES, weights=self._weights)[0]

    def record(self, category: str) -> str:
        rng = self._rng
        record_id = rng.randint(*ID_RANGE)
        while record_id in self._used_ids:
            record_id = rng.randint(*ID_RANGE)
        self._used_ids.add(record_id)
        day = date.fromordinal(FIRST_DAY + rng.randrange(DAYS)).isoformat()
        return f"id {record_id} | user: {rng.choice(USERS)} | date: {day}{CATEGORY_FIELD}{category}"

    def units(self) -> Iterator[str]:
        """Endless record lines, each with its leading newline (see `fitting.join_units`)."""
        while True:
            yield "\n" + self.record(self.category())
