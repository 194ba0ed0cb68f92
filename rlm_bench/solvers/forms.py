"""Which form a solver's calls take, and the chat form of the one-shot prompts.

A base model continues text, so it gets `prompts.py`'s completion prompts (solved examples, then
the text, then an answer cue to continue). A chat model is asked in its own conversation
format: the text and question as the user's turn, the solved examples as earlier turns. Which
one a model gets is `form`: `auto` (chat where the model has a chat template), or forced
either way for an ablation.
"""

from __future__ import annotations

from collections.abc import Sequence

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Message, Model, PromptForm
from rlm_bench.solvers.prompts import answer_stop, build_prompt
from rlm_bench.tasks.base import Query

FORMS = ("auto", "chat", "completion")
MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message's content (role markers, end of turn):
Qwen's ChatML adds 5, Gemma's turns 6; 8 leaves a margin for any other template."""
ANSWER_SYSTEM = (
    "You answer questions about a text. Reply with the answer alone, in the words of the "
    "question, without explanation."
)


def check_form(solver: str, form: str) -> str:
    if form not in FORMS:
        raise UserError(f"{solver} solver: form must be one of {', '.join(FORMS)} (got {form!r})")
    return form


def pick_form(form: str, model: Model) -> PromptForm:
    """The form `form` means for `model`; asking chat of a model without a template is an error
    on the first sample, not a silent fallback that would mislabel the run."""
    if form == "auto":
        return "chat" if getattr(model, "has_chat_template", False) else "completion"
    if form == "chat" and not getattr(model, "has_chat_template", False):
        raise UserError(f"form=chat asked for, but {model.name} has no chat template")
    return form  # type: ignore[return-value]


def answer_messages(query: Query, context: str) -> list[Message]:
    """The chat form of `build_prompt`: the same text and question, solved examples as turns."""
    messages: list[Message] = [{"role": "system", "content": ANSWER_SYSTEM}]
    for example in query.examples:
        messages.append({"role": "user", "content": _ask(example.context, query)})
        messages.append(
            {"role": "assistant", "content": f"{query.answer_prefix} {example.answer}."}
        )
    messages.append({"role": "user", "content": _ask(context, query)})
    return messages


def _ask(context: str, query: Query) -> str:
    return f"Text:\n{context}\n\nQuestion: {query.question}"


def chat_tokens(model: Model, messages: Sequence[Message]) -> int:
    """Tokens a conversation costs the window, without applying a template (hosted models have
    none here): each content counted, plus `MESSAGE_OVERHEAD` per message and the reply cue."""
    count = model.tokenizer.count
    return sum(count(m["content"]) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD


def answer_overhead(form: PromptForm, model: Model, query: Query) -> int:
    """What one answer call costs on top of its text, in tokens."""
    if form == "chat":
        return chat_tokens(model, answer_messages(query, ""))
    return model.tokenizer.count(build_prompt(query, ""))


async def ask(form: PromptForm, model: Model, query: Query, context: str) -> Completion:
    """One answer call about `context`, in `form`."""
    if form == "chat":
        return await model.chat(
            answer_messages(query, context),
            max_tokens=query.max_tokens,
            stop=answer_stop(query, form),
        )
    return await model.complete(
        build_prompt(query, context), max_tokens=query.max_tokens, stop=answer_stop(query, form)
    )
