"""Where in the context a model-written prompt's text came from.

A REPL model builds sub-call prompts from slices of `context` (`context[i:i + size]`) wrapped
in its own words. The slice's span lets the evaluator score the sub-call's answer against the
task's `gold_for_span`, just as it scores a recursive solver's leaves.
"""

from __future__ import annotations

PROBE_CHARS = 48
MAX_PROBES = 64
MIN_SPAN_CHARS = 200


def locate_span(context: str, prompt: str) -> tuple[int, int] | None:
    """The longest stretch of `prompt` copied verbatim from `context`, as a span of `context`,
    if it is at least `MIN_SPAN_CHARS` long.

    Probes step through the prompt a line or `PROBE_CHARS` at a time, whichever is shorter.
    From a probe that is found, bisection finds the longest prefix found anywhere in the
    context, so in a repetitive haystack (RULER's noise repeats its sentences) the match is
    the copy that holds the whole slice, not the first copy of its opening words; the match
    is then extended backwards to where the slice begins. Text that occurs twice in full is
    given at its first place; its gold is the same at either."""
    best: tuple[int, int] | None = None
    i, probes = 0, 0
    while i + PROBE_CHARS <= len(prompt) and probes < MAX_PROBES:
        probes += 1
        if context.find(prompt[i : i + PROBE_CHARS]) < 0:
            newline = prompt.find("\n", i + 1)
            i = min(newline + 1 if newline >= 0 else len(prompt), i + PROBE_CHARS)
            continue
        length = _longest_found_prefix(context, prompt, i)
        at = context.find(prompt[i : i + length])
        back = 0
        while back < min(at, i) and context[at - back - 1] == prompt[i - back - 1]:
            back += 1
        if best is None or length + back > best[1] - best[0]:
            best = (at - back, at + length)
        i += length
    if best and best[1] - best[0] >= MIN_SPAN_CHARS:
        return best
    return None


def _longest_found_prefix(context: str, prompt: str, i: int) -> int:
    """Bisection works because every prefix of a found string is found too."""
    found, missing = PROBE_CHARS, len(prompt) - i + 1
    while missing - found > 1:
        middle = (found + missing) // 2
        if context.find(prompt[i : i + middle]) >= 0:
            found = middle
        else:
            missing = middle
    return found
