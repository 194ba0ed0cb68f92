"""OOLONG's two scorers, rule for rule as the reference's `src/eval/eval_helpers.py`
(github.com/abertsch72/oolong): `synth_process_response` for OOLONG-synth and
`dnd_process_response` for OOLONG-real's D&D split. The reference parses the model's raw reply
itself, so these take the whole reply, not an extracted answer.

They are kept apart from `scoring.py` because they are not ours to tune: a benchmark's number is
comparable to the paper's only when every quirk is kept, including the ones that look like bugs
(a reply without a colon is cut to its last word, an unboxed D&D reply is never read as a
number, list answers are compared case-sensitively while single names are not).

Where these differ from the reference, and why:
- A prediction of None (the solver got no reply it could read) scores 0; the reference always
  holds a reply string.
- A reply of 20 or more characters that are all whitespace scores 0; the reference raises
  IndexError on it (it takes the last word of a reply that has none).
- A D&D number so far off that 0.75**difference overflows scores 0; the reference raises.
- The D&D gold is read from `str(answer)`, so a table that stores a count as a number (a local
  copy) scores as the hub's strings do; the reference's `","`-test would raise on a number.
- Scores are floats; the reference returns 1, True/False or a float.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from typing import Any

from dateutil import parser as date_parser

from rlm_bench.tasks.scoring import PARTIAL_CREDIT_BASE

NUMERIC = "ANSWER_TYPE.NUMERIC"
DATE = "ANSWER_TYPE.DATE"
SHORT_REPLY = 20
"""Below this many characters a reply without a colon, or the text after its last colon, is
taken as it is; at or above it, the reference cuts it (to the last word, or to a comparative)."""
COMPARATIVES = ("more common", "less common", "same frequency")
"""Checked in this order, as the reference does: a long reply naming two keeps the first here."""
GOLD_DATE = "[datetime.date(%Y, %m, %d)]"
"""How the synth table writes a date answer: `str()` of a one-element list of `datetime.date`."""
BOXED_TEXT = re.compile(r"\\boxed\{\\text\{([^}]*)\}\}")
BOXED = re.compile(r"\\boxed[\{]+([^}]*)[\}]+")

DndValue = int | str | list[str]


def synth_gold(answer: str) -> Any:
    """The gold value of a synth row: the first element of its list (a label, a count, a user
    id), or a datetime (midnight) for a date answer."""
    if "datetime" in answer:
        return datetime.strptime(answer, GOLD_DATE)
    return ast.literal_eval(answer)[0]


def synth_parse(reply: str) -> str:
    """The answer the reference reads from a synth reply: the text after its last colon with
    `*`, `[` and `]` removed (models bold or bracket it); a reply without a colon whole when
    short, else its last word. A long candidate naming a comparative collapses to it."""
    if ":" not in reply:
        if len(reply) < SHORT_REPLY:
            return reply
        words = reply.split()
        return words[-1] if words else ""
    candidate = reply.split(":")[-1].strip()
    for mark in "*[]":
        candidate = candidate.replace(mark, "")
    if len(candidate) >= SHORT_REPLY:
        for phrase in COMPARATIVES:
            if phrase in candidate:
                return phrase
    return candidate


def synth_score(prediction: str | None, answer: str, answer_type: str) -> float:
    """1 for the gold as a string, or a comparative the gold phrase contains ("more common" for
    "more common than"); otherwise 0.75^|error| for a numeric answer and date equality (as
    dateutil reads the reply) for a date answer; 0 for anything else."""
    if prediction is None:
        return 0.0
    gold = synth_gold(answer)
    parsed = synth_parse(prediction)
    if parsed == str(gold):
        return 1.0
    if parsed in COMPARATIVES:
        return float(parsed in str(gold))
    if answer_type == NUMERIC:
        try:
            return PARTIAL_CREDIT_BASE ** abs(int(gold) - int(parsed))
        except Exception:  # the reference scores any failure to read a number as 0
            return 0.0
    if answer_type == DATE:
        try:
            return float(date_parser.parse(parsed) == gold)
        except Exception:  # the reference scores any failure to read a date as 0
            return 0.0
    return 0.0


def dnd_value(text: str) -> DndValue:
    """A D&D answer as the reference types it: an int if `int()` reads it, a list of the
    non-empty comma-separated items if it has a comma, else the string."""
    try:
        return int(text)
    except ValueError:
        pass
    if "," in text:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def dnd_parse(reply: str) -> DndValue:
    """The answer in `\\boxed{\\text{...}}` or `\\boxed{...}`, typed; a reply with neither stays
    the raw reply, a string, never read as a number or a list."""
    match = BOXED_TEXT.search(reply) or BOXED.search(reply)
    return dnd_value(match.group(1)) if match else reply


def dnd_score(prediction: str | None, answer: Any) -> float:
    """By the gold's type, and 0 when the reply's type differs: 0.75^|error| for a number,
    case-insensitive equality of the stripped strings for a name, the fraction of gold items
    named (exact strings) for a list."""
    if prediction is None:
        return 0.0
    gold = dnd_value(str(answer))
    parsed = dnd_parse(prediction)
    if isinstance(gold, int) and isinstance(parsed, int):
        try:
            return PARTIAL_CREDIT_BASE ** abs(gold - parsed)
        except OverflowError:
            return 0.0
    if isinstance(gold, str) and isinstance(parsed, str):
        return float(gold.strip().lower() == parsed.strip().lower())
    if isinstance(gold, list) and isinstance(parsed, list):
        return len(set(gold) & set(parsed)) / len(gold) if gold else 0.0
    return 0.0
