"""Test doubles, named as such: models that answer without running a network or weights."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence

from rlm_bench.models import BACKENDS
from rlm_bench.models.base import Completion, Message, check_messages
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.tasks.base import Sample, Task
from rlm_bench.tasks.combining import finish
from rlm_bench.tokens import Tokenizer

Reply = Callable[[str], str]
ChatReply = Callable[[list[Message]], str]


def last_text(prompt: str) -> str:
    """The text block the prompt asks about (solved examples come before it)."""
    body = prompt.rsplit("Text:\n", 1)[-1]
    return body.rsplit("\n\nQuestion:", 1)[0]


def oracle_reply(prompt: str) -> str:
    """Answers as a perfect reader of the generated tasks would: the needle's value if the text
    holds the asked key's needle, else "none"; for counts, the true count of the asked category."""
    text = last_text(prompt)
    question = prompt.rsplit("Question: ", 1)[-1]
    if key := re.search(r"magic number for (\S+?) mentioned", question):
        found = re.search(rf"magic number for {re.escape(key.group(1))} is (\d+)", text)
        return f" {found.group(1)}." if found else " none."
    if cat := re.search(r"category (\S+?)\?", question):
        return f" {len(re.findall(rf'category: {re.escape(cat.group(1))}$', text, re.M))}."
    return " none."


def gold_reader(task: Task, sample: Sample) -> Reply:
    """A perfect reader of one sample: answers each prompt with the task's gold answer for the
    span of the context the prompt holds, for the question the prompt asks."""

    def reply(prompt: str) -> str:
        text = last_text(prompt)
        start = sample.context.find(text)
        assert start >= 0, "the prompt holds a span of the sample's context"
        gold = task.gold_for_span(sample, start, start + len(text))
        if f"Question: {sample.query.question}" in prompt and sample.decomposition.part:
            gold = finish(gold, sample.decomposition, sample.part_query)
        return f" {gold}."

    return reply


class ScriptedModel:
    """Replays replies from a function of the prompt (or of the conversation, for `chat`);
    counts tokens with a real tokenizer, and how many of its calls overlap."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        reply: Reply = oracle_reply,
        context_window: int = 32768,
        delay_s: float = 0.0,
        *,
        has_chat_template: bool = False,
        chat_reply: ChatReply | None = None,
    ) -> None:
        self.name = "scripted"
        self.tokenizer = tokenizer
        self.context_window = context_window
        self.reply = reply
        self.chat_reply = chat_reply or self._reply_to_last_user
        self.has_chat_template = has_chat_template
        self.delay_s = delay_s
        self.prompts: list[str] = []
        self.conversations: list[list[Message]] = []
        self.in_flight = self.most_in_flight = 0
        """Calls under way now (completions and chats alike), and the most ever at once."""

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        self.prompts.append(prompt)
        await self._take_time()
        text = self.reply(prompt)
        return Completion(
            text=text,
            prompt_tokens=self.tokenizer.count(prompt) + 1,
            completion_tokens=self.tokenizer.count(text),
            latency_s=self.delay_s,
        )

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """Checks the messages as every backend does, so a solver's malformed conversation
        fails in tests too."""
        messages = check_messages(messages)
        self.conversations.append(messages)
        await self._take_time()
        text = self.chat_reply(messages)
        contents = "\n".join(m["content"] for m in messages)
        return Completion(
            text=text,
            prompt_tokens=self.tokenizer.count(contents) + 1,
            completion_tokens=self.tokenizer.count(text),
            latency_s=self.delay_s,
            form="chat",
        )

    async def _take_time(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1

    def _reply_to_last_user(self, messages: list[Message]) -> str:
        """By default a chat is answered as a completion of its last question would be, so
        the doubles built on `reply` (the oracle, gold readers) serve chat solvers as well."""
        users = [m["content"] for m in messages if m["role"] == "user"]
        return self.reply(users[-1] if users else "")

    async def check(self) -> None:
        """A scripted model is always reachable."""

    def describe(self) -> dict[str, object]:
        return {"backend": "scripted", "name": self.name}


@BACKENDS.register("scripted")
def scripted_backend(arg: str, options: dict[str, object]) -> ScriptedModel:
    """`--model scripted`: the oracle double behind the real CLI, with the real tokenizer;
    `scripted:S` answers each call after S seconds."""
    return ScriptedModel(EmbeddedModel().tokenizer, delay_s=float(arg) if arg else 0.0)
