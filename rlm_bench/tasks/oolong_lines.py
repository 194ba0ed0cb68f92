"""Reading the labelled lines of an OOLONG-synth window, where the pair golds come from.

A trec_coarse window is a preamble, one line per question, and a closing "Recall: ..." block:

    Date: Apr 18, 2022 || User: 44717 || Instance: Who wrote the Iliad ?

The labelled copy of the window (`context_window_text_with_labels`) has the same lines in the
same order, each ending in " || Label: human being". The model sees the plain window, so each
labelled line is matched to its plain line and recorded with the plain line's span: the part of
the context that holds that question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rlm_bench.errors import UserError
from rlm_bench.tasks.oolong_pairs_queries import LABELS, Entry

RECORD = re.compile(r"^Date: .*$", re.M)
FIELDS = re.compile(
    r"Date: (?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}) "
    r"\|\| User: (?P<user>\d+) \|\| Instance: "
)
LABEL_FIELD = " || Label: "
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    entry: Entry


def parse_day(month: str, day: str, year: str, where: str) -> date:
    """OOLONG's "Apr 18, 2022", read without the locale `strptime` would depend on."""
    try:
        return date(int(year), MONTHS.index(month) + 1, int(day))
    except ValueError:
        raise UserError(f"{where}: no such date {month} {day}, {year}") from None


def labelled_lines(plain: str, labelled: str, where: str) -> list[Line]:
    """Every question line of the plain window with its span there and its user, label and date
    from the labelled copy; a copy that does not line up with the window is an error naming the
    first line that differs."""
    shown = list(RECORD.finditer(plain))
    marked = RECORD.findall(labelled)
    if len(shown) != len(marked):
        raise UserError(
            f"{where}: the window has {len(shown)} question lines but its labelled copy "
            f"{len(marked)}"
        )
    lines = []
    for number, (match, full) in enumerate(zip(shown, marked, strict=True), 1):
        text, field, label = full.rpartition(LABEL_FIELD)
        if not field:
            raise UserError(f"{where}: labelled question line {number} has no '{LABEL_FIELD}'")
        if text.rstrip() != match.group(0).rstrip():
            raise UserError(f"{where}: question line {number} differs from its labelled copy")
        label = label.strip()
        if label not in LABELS:
            raise UserError(f"{where}: question line {number} has no trec_coarse label ({label!r})")
        fields = FIELDS.match(text)
        if fields is None:
            raise UserError(f"{where}: question line {number} is not 'Date: ... || User: ...'")
        day = parse_day(fields["month"], fields["day"], fields["year"], where)
        lines.append(Line(match.start(), match.end(), Entry(fields["user"], label, day)))
    return lines
