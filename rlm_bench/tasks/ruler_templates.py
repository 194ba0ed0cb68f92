"""RULER's prompt templates, and cutting a prepared row's `input` back into context and question.

RULER's `prepare.py` writes each row's `input` as the task template filled in (instructions,
then the context, then the question), wrapped in a model's chat template (`template.py`) and
sometimes preceded by solved examples (`vt` and `cwe` put one before the real template); the
answer prefix is cut off into a field of its own. A recursive solver needs the context apart
from the question, so `split_input` finds the last occurrence of the task's template in the
input and reads the context and the question out of it:

- the context is what fills `{context}`;
- the question is the template's text after the context, from its last "Question:" on when it
  has one (so a QA row's question is the dataset's question, without the instructions);
- the instructions before the context and whatever precedes the template (a chat template's
  opening, the solved examples) are returned too, for the record.

Whitespace in a template matches any whitespace, so rows written with `--remove_newline_tab`
split too. A row that no template matches is split at its last line break (context before it,
question on it); a row without one cannot be split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from rlm_bench.errors import UserError


@dataclass(frozen=True)
class Family:
    """One of RULER's task types (`scripts/data/synthetic/constants.py`): its template with
    `{context}`, `{query}` and `{kind}` (the needle value's type) slots, how many tokens RULER
    lets the model generate, and its metric."""

    template: str
    tokens_to_generate: int
    metric: str


NIAH_TEMPLATE = (
    "Some special magic {kind} are hidden within the following text. Make sure to memorize it. "
    "I will quiz you about the {kind} afterwards.\n{context}\n"
    "What are all the special magic {kind} for {query} mentioned in the provided text?"
)
FAMILIES = {
    "niah": Family(NIAH_TEMPLATE, 128, "all"),
    "variable_tracking": Family(
        "Memorize and track the chain(s) of variable assignment hidden in the following text."
        "\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in the "
        "text above.",
        30,
        "all",
    ),
    "common_words_extraction": Family(
        "Below is a numbered list of words. In these words, some appear more often than others. "
        "Memorize the ones that appear most often.\n{context}\n"
        "Question: What are the 10 most common words in the above list?",
        120,
        "all",
    ),
    "freq_words_extraction": Family(
        "Read the following coded text and track the frequency of each coded word. Find the three "
        "most frequently appeared coded words. {context}\nQuestion: Do not provide any "
        "explanation. Please ignore the dots '....'. What are the three most frequently appeared "
        "words in the above coded text?",
        50,
        "all",
    ),
    "qa": Family(
        "Answer the question based on the given documents. Only give me the answer and do not "
        "output any other words.\n\nThe following are given documents.\n\n{context}\n\n"
        "Answer the question based on the given documents. Only give me the answer and do not "
        "output any other words.\n\nQuestion: {query}",
        32,
        "part",
    ),
}
SHORT_NAMES = {
    "vt": "variable_tracking",
    "cwe": "common_words_extraction",
    "fwe": "freq_words_extraction",
}
"""The names `synthetic.yaml` gives the tasks of each type (`niah_single_1`, `qa_2` are matched
by their first word)."""

CHAT_ENDINGS = (
    " [/INST]", " ASSISTANT:", "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
    "<|assistant|> \n ", "\n\nAssistant:", "<|end|>\n<|assistant|>\n",
    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "<|eom|><|bom|><|assistant|>",
    "\n<SPECIAL_11>Assistant\n",
)  # fmt: skip
"""What RULER's model templates (`scripts/data/template.py`) put after the task template. A
template that ends in its question's slot (QA) needs them to tell where the question ends."""


def family_of(name: str) -> str | None:
    """The task type of a RULER task name (`niah_single_1` -> `niah`), None when unknown."""
    if name in FAMILIES:
        return name
    first = name.split("_")[0]
    if first in SHORT_NAMES:
        return SHORT_NAMES[first]
    return first if first in FAMILIES else None


def singular(template: str) -> str:
    """The needle template as RULER words it when one value is asked (niah.py rewrites the
    plural template word by word, before filling it in)."""
    for plural, one in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
        template = template.replace(plural, one)
    return template


def _loose(literal: str) -> str:
    """A regex for literal template text in which any run of whitespace matches any other."""
    return r"\s+".join(re.escape(word) for word in literal.split())


def _template_regex(template: str) -> str:
    parts = []
    kind_seen = False
    for piece in re.split(r"(\{\w+\})", template):
        if piece == "{context}":
            parts.append(r"(?P<context>.*)")
        elif piece == "{query}":
            parts.append(r"(?P<query>.*?)")
        elif piece == "{kind}":
            parts.append(r"(?P=kind)" if kind_seen else r"(?P<kind>\w+)")
            kind_seen = True
        elif piece.strip():
            parts.append(_loose(piece))
    return r"\s*".join(parts)


@cache
def _compiled(template: str) -> re.Pattern[str]:
    ending = (
        "(?:" + "|".join(_loose(e) for e in CHAT_ENDINGS) + ")?" if template.endswith("}") else ".*"
    )
    body = _template_regex(template)
    return re.compile(rf"(?s)\A(?P<before>.*)(?P<template>{body})(?P<after>\s*{ending}\s*)\Z")


@dataclass(frozen=True)
class Split:
    context: str
    question: str
    instructions: str
    """The template's text before the context."""
    before: str
    """What precedes the template in the input: a chat template's opening, solved examples."""
    family: str | None
    """The task type whose template matched; None for the line-break fallback."""
    kind: str | None = None
    """The needle value's type a needle template names (`number`, `uuids`...)."""


def _question(tail: str) -> str:
    tail = tail.strip()
    _, marker, after = tail.rpartition("Question:")
    return after.strip() if marker else tail


def _match(text: str, family: str) -> Split | None:
    template = FAMILIES[family].template
    variants = (template, singular(template)) if family == "niah" else (template,)
    for variant in variants:
        m = _compiled(variant).match(text)
        if m:
            return Split(
                context=m["context"].strip(),
                question=_question(text[m.end("context") : m.end("template")]),
                instructions=text[m.start("template") : m.start("context")].strip(),
                before=m["before"],
                family=family,
                kind=m.groupdict().get("kind"),
            )
    return None


def split_input(text: str, family: str | None, where: str) -> Split:
    """`text` (a row's `input`) cut into its parts by `family`'s template, by every known
    template in turn when the family is unknown, else at its last line break. `where` names
    the row in the error a row that cannot be split raises."""
    for candidate in (family,) if family else tuple(FAMILIES):
        split = _match(text, candidate)
        if split:
            return split
    body = text.rstrip()
    cut = body.rfind("\n")
    if cut < 0:
        expected = f"RULER's {family} template" if family else "any RULER template"
        raise UserError(
            f"{where}: input matches neither {expected} nor has a line break to split the "
            "question off at"
        )
    return Split(
        context=body[:cut],
        question=_question(body[cut:]),
        instructions="",
        before="",
        family=None,
    )
