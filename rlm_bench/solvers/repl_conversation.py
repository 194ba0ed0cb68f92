"""One REPL trajectory's turns, kept as messages and rendered in the form the model reads.

The RLM paper's loop is a conversation: a system prompt about the REPL and `context`, the
question, then the model's code in assistant turns and each block's output in user turns. A
chat model gets exactly that (`messages`); a base model, which has no turns, gets the same turns
as one transcript with `### Assistant` / `### REPL output` headers to continue (`transcript`).
Either way the oldest exchanges are dropped when the whole would not fit the window, and the
model is told how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from rlm_bench.models.base import Message, Model, merged_turns
from rlm_bench.solvers.forms import chat_tokens

PROMPTS = Path(__file__).with_name("repl_prompts")
TurnKind = Literal["reply", "output", "note"]
"""`reply`: the model's; `output`: what its blocks printed; `note`: the harness speaking (no
code was written, a block repeated, a FINAL_VAR named no variable)."""
TRANSCRIPT_HEADERS = {"reply": "### Assistant", "output": "### REPL output", "note": "### User"}


@cache
def prompt_file(name: str) -> str:
    return (PROMPTS / f"{name}.txt").read_text()


@dataclass(frozen=True)
class Turn:
    kind: TurnKind
    text: str


@dataclass
class Conversation:
    system: str
    """Chat: the system message, the same for every sample (no sizes in it), so a server's
    prefix cache can reuse it. Completion: the transcript's head, sizes included."""
    opening: str
    """Chat: the first user message (the context's size and the question). Completion: the
    question line that follows the head."""
    question: str
    guide: bool
    lead: str = "Now your text."
    """Completion: the line between the head and the question (a head that ends with the text
    itself, as CodeAct's does, needs another)."""
    turns: list[Turn] = field(default_factory=list)

    def add(self, kind: TurnKind, text: str) -> None:
        self.turns.append(Turn(kind, text))

    # --- chat -------------------------------------------------------------------------------

    def messages(self, model: Model, budget: int, *, closing: str | None = None) -> list[Message]:
        """System, opening, the exchanges that fit in `budget` tokens, then `closing` (the
        out-of-turns request) if given."""
        kept = list(self.turns)
        while True:
            dropped = len(self.turns) - len(kept)
            opening = self.opening
            if dropped:
                opening += f"\n\n(The first {dropped} messages after this one are left out.)"
            messages: list[Message] = [
                {"role": "system", "content": self.system},
                {"role": "user", "content": opening},
                *(self._message(t) for t in kept),
            ]
            if closing is not None:
                messages.append({"role": "user", "content": closing})
            if len(kept) <= 2 or chat_tokens(model, messages) <= budget:
                return merged_turns(messages)
            kept = kept[2:]

    def _message(self, turn: Turn) -> Message:
        if turn.kind == "reply":
            return {"role": "assistant", "content": turn.text}
        if turn.kind == "note":
            return {"role": "user", "content": turn.text}
        content = f"Output:\n{turn.text}"
        if self.guide:
            content += "\n\n" + prompt_file("chat_next").format(question=self.question).strip()
        return {"role": "user", "content": content}

    # --- completion -------------------------------------------------------------------------

    def transcript(self, model: Model, budget: int) -> str:
        """The head, the question, the turns that fit in `budget` tokens, and the cue for the
        model's next turn."""
        head = self.system + f"\n\n{self.lead}\nQuestion: {self.question}\n"
        lines = [f"{TRANSCRIPT_HEADERS[t.kind]}\n{t.text}" for t in self.turns]
        kept = list(lines)
        while True:
            dropped = len(lines) - len(kept)
            note = f"(the first {dropped} turns are left out)\n" if dropped else ""
            prompt = head + note + "\n".join(kept) + ("\n" if kept else "") + "### Assistant\n"
            if len(kept) <= 2 or model.tokenizer.count(prompt) <= budget:
                return prompt
            kept = kept[2:]
