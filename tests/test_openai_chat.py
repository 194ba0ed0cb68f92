"""A chat call reaches a real `transformers serve` as a conversation, seen from the server side.

The server reports no request log, but it tokenizes what its chat template makes of the messages
and reports that count as `prompt_tokens`. The folder it serves here is a copy of the served
checkpoint (links to the same weights) with a template of our own whose role markers differ in
length, so the count tells apart the right conversation, the same texts with the roles lost,
and everything in one user message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from rlm_bench.models import serving
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.served_process import served_checkpoint_folder

ROLE_MARKED = (
    "{% set marks = {'system': 'S:', 'user': 'U U:', 'assistant': 'A A A A:'} %}"
    "{% for message in messages %}{{ marks[message['role']] }} {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}A A A A:{% endif %}"
)
"""Markers of one, two and four words: a role sent as another one changes the count (with
lengths in steps of one, a system and an assistant message would count as two users')."""

CONVERSATION = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "Capital of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "Capital of France?"},
]


@pytest.fixture(scope="module")
def role_marked_folder(tmp_path_factory) -> Path:
    """The served checkpoint's files as links, with `ROLE_MARKED` as its chat template."""
    folder = tmp_path_factory.mktemp("role_marked")
    for file in serving.served_folder().iterdir():
        if file.name != "chat_template.jinja":
            (folder / file.name).symlink_to(file.resolve())
    (folder / "chat_template.jinja").write_text(ROLE_MARKED)
    return folder


@pytest.fixture(scope="module")
def role_marked_server(role_marked_folder, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("role_marked_server") / "stderr.log"
    with served_checkpoint_folder(role_marked_folder, log=log) as base_url:
        yield base_url


def templated_count(tokenizer, messages: list[dict]) -> int:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    return len(encoded["input_ids"])


@pytest.mark.slow
def test_a_chat_call_reaches_the_server_as_its_messages(role_marked_folder, role_marked_server):
    model = OpenAIModel(str(role_marked_folder), base_url=role_marked_server, endpoint="chat")
    completion = asyncio.run(model.chat(CONVERSATION, max_tokens=2))

    tokenizer = AutoTokenizer.from_pretrained(role_marked_folder)
    sent = templated_count(tokenizer, CONVERSATION)
    roles_lost = templated_count(tokenizer, [{**m, "role": "user"} for m in CONVERSATION])
    joined = "\n\n".join(m["content"] for m in CONVERSATION)
    one_message = templated_count(tokenizer, [{"role": "user", "content": joined}])
    assert completion.prompt_tokens == sent
    assert sent not in (roles_lost, one_message)
    assert completion.form == "chat" and 1 <= completion.completion_tokens <= 2
