"""`python -m rlm_bench serve --model SPEC`: any embedded model, with its own chat template.

A chat model (Qwen2.5-Coder Instruct) is served with the ChatML template its GGUF carries, so a
chat call is formatted as the model was trained and ends at its end of turn; Gemma's base model,
which carries none, gets Gemma's turns.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from rlm_bench import cli
from rlm_bench.models import serving
from rlm_bench.models.checkpoint import CHAT_TEMPLATE_FILE
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.served_process import served_embedded_model

QWEN = "embedded:qwen2.5-coder-0.5b"
YES = [{"role": "user", "content": "Reply with the single word: yes"}]


@pytest.fixture(scope="module")
def qwen_folder() -> Path:
    return serving.served_folder(QWEN)


@pytest.fixture(scope="module")
def qwen_server(qwen_folder, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("qwen_server") / "stderr.log"
    with served_embedded_model(QWEN, log=log) as base_url:
        yield base_url


@pytest.mark.slow
def test_a_served_chat_model_answers_in_its_own_template(qwen_folder, qwen_server):
    model = OpenAIModel(str(qwen_folder), base_url=qwen_server, endpoint="chat")
    completion = asyncio.run(model.chat(YES, max_tokens=8))

    assert completion.text.strip().strip(".").lower() == "yes"
    assert "<|im_end|>" not in completion.text
    assert completion.completion_tokens < 8  # it stopped at its end of turn, not at the cap
    tokenizer = AutoTokenizer.from_pretrained(qwen_folder)
    assert "<|im_start|>" in tokenizer.chat_template
    local = tokenizer.apply_chat_template(YES, add_generation_prompt=True)["input_ids"]
    assert completion.prompt_tokens == len(local)


@pytest.mark.slow
def test_served_folders_carry_the_models_own_template_or_gemmas_turns(qwen_folder):
    """Quick once both checkpoints are converted (the first run converts them)."""
    checkpoint = qwen_folder.parents[1] / "checkpoints" / qwen_folder.name
    qwen_template = (qwen_folder / CHAT_TEMPLATE_FILE).read_text()
    assert qwen_template == (checkpoint / CHAT_TEMPLATE_FILE).read_text()
    assert "<|im_start|>" in qwen_template
    gemma_folder = serving.served_folder()
    assert gemma_folder != qwen_folder
    assert (gemma_folder / CHAT_TEMPLATE_FILE).read_text() == serving.GEMMA_TURNS


def fake_checkpoint(root: Path, name: str, template: str | None) -> Path:
    checkpoint = root / "checkpoints" / name
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    if template is not None:
        (checkpoint / CHAT_TEMPLATE_FILE).write_text(template)
    return checkpoint


@pytest.mark.parametrize("left_over", ["a copy", "a link"])
def test_linking_replaces_a_stale_template_without_writing_through_it(
    left_over, tmp_path, monkeypatch
):
    """A served folder made before the checkpoint kept its own template holds Gemma's turns."""
    monkeypatch.setenv("RLM_BENCH_CACHE", str(tmp_path))
    chat = fake_checkpoint(tmp_path, "chat", "{{ messages }}")
    stale = tmp_path / "served" / "chat" / CHAT_TEMPLATE_FILE
    stale.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.jinja"
    elsewhere.write_text(serving.GEMMA_TURNS)
    if left_over == "a link":
        stale.symlink_to(elsewhere)
    else:
        stale.write_text(serving.GEMMA_TURNS)

    folder = serving.link_checkpoint(chat)
    assert (folder / "config.json").resolve() == chat / "config.json"
    assert not (folder / CHAT_TEMPLATE_FILE).is_symlink()
    assert (folder / CHAT_TEMPLATE_FILE).read_text() == "{{ messages }}"
    assert elsewhere.read_text() == serving.GEMMA_TURNS


def test_a_checkpoint_without_a_template_is_served_with_gemmas_turns(tmp_path, monkeypatch):
    monkeypatch.setenv("RLM_BENCH_CACHE", str(tmp_path))
    folder = serving.link_checkpoint(fake_checkpoint(tmp_path, "base", None))
    assert (folder / CHAT_TEMPLATE_FILE).read_text() == serving.GEMMA_TURNS
    assert folder == tmp_path / "served" / "base"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openai:gpt-4o", "serve takes embedded, embedded:<name>, gguf:<path> or a path to"),
        ("hf:{tmp}/model.gguf", "serve takes embedded"),
        ("embedded:nope", "unknown embedded model 'nope'"),
        ("gguf:/no/such/model.gguf", "model file not found: /no/such/model.gguf"),
    ],
)
def test_a_bad_model_is_one_line_and_exit_2(spec, message, tmp_path, capsys):
    (tmp_path / "model.gguf").touch()  # a file: `hf:` accepts it, `serve` must not
    assert cli.main(["serve", "--model", spec.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_bad_model_exits_2_from_the_command_line():
    args = [sys.executable, "-m", "rlm_bench", "serve", "--model", "/no/such/model.gguf"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and not done.stdout
    assert done.stderr == "rlm_bench: error: model file not found: /no/such/model.gguf\n"


def test_a_missing_serve_extra_names_the_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if `transformers[serving]` were absent
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install -e ".[serve]"' in err
