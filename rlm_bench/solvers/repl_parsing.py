"""Reading a REPL model's reply: the code blocks it wrote and the final answer it gave.

Code is read from ```repl blocks (```python too: models trained on markdown write it out of
habit, and refusing to run it would score their format, not their reasoning). A final answer
counts only outside code: `FINAL(...)` written inside a block is a call the REPL itself
answers (see `repl.py`), so it is never read twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CODE_BLOCK = re.compile(r"```(?:repl|python|py)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
FINAL_VAR = re.compile(r"^[ \t]*FINAL_VAR\([ \t]*[\"']?([A-Za-z_]\w*)[\"']?[ \t]*\)", re.MULTILINE)
FINAL = re.compile(r"^[ \t]*FINAL\((.*)\)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Final:
    """`FINAL(text)` (`variable` None) or `FINAL_VAR(variable)` (`text` None)."""

    text: str | None = None
    variable: str | None = None


def code_blocks(reply: str) -> list[str]:
    """The code of every block, in order; a block the reply ends inside (cut by the token
    limit) still runs: its lines so far are what the model wrote."""
    return [block.strip("\n") for block in CODE_BLOCK.findall(reply) if block.strip()]


def final_answer(reply: str) -> Final | None:
    """The first final answer outside code blocks."""
    prose = CODE_BLOCK.sub("", reply)
    found = [(m.start(), Final(variable=m.group(1))) for m in FINAL_VAR.finditer(prose)]
    found += [(m.start(), Final(text=_unquoted(m.group(1)))) for m in FINAL.finditer(prose)]
    return min(found, key=lambda f: f[0])[1] if found else None


def _unquoted(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text
