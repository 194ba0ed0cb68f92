"""The embedded models: chunked GGUFs assembled and checked, and a chat template that survives
conversion (Qwen2.5-Coder's ChatML, with its end-of-turn stop)."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models import load_model
from rlm_bench.models.checkpoint import cache_root, ensure_tokenizer
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.packaged import QWEN_CODER, PackagedGGUF, assemble, gguf_for
from rlm_bench.solvers import make_solver
from rlm_bench.tasks import get_task

IM_END = 151645
"""Qwen's `<|im_end|>`: the end of a ChatML turn."""


@pytest.fixture
def pieces(tmp_path, monkeypatch):
    """Two importable packages holding one piece each, as the PyPI chunk packages do."""
    monkeypatch.setenv("RLM_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    data = [b"GGUF" + bytes(range(200)), bytes(reversed(range(256))) * 3]
    for i, blob in enumerate(data, 1):
        folder = tmp_path / "site" / f"fake_piece_{i}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{i:02d}.bin").write_bytes(blob)
    whole = b"".join(data)
    published = hashlib.sha256(whole).hexdigest()

    def model(sha256=published, names=(1, 2)):
        return PackagedGGUF(
            name="fake",
            file_name="fake.gguf",
            pieces=tuple((f"fake_piece_{i}", f"part{i:02d}.bin") for i in names),
            size=len(whole),
            sha256=sha256,
            install="pip install fake-piece-1 fake-piece-2",
        )

    return model, whole


def test_pieces_concatenate_in_order_into_the_published_file(pieces):
    model, whole = pieces
    path = assemble(model())
    assert path.read_bytes() == whole
    assert assemble(model()) == path  # reused, not rebuilt


def test_a_file_that_does_not_match_its_hash_is_refused(pieces):
    model, _ = pieces
    with pytest.raises(UserError, match="not the published") as err:
        assemble(model(sha256="0" * 64))
    assert "\n" not in str(err.value) and "reinstall: pip install" in str(err.value)
    assert not list((cache_root() / "gguf").iterdir())  # no partial file is left behind


def test_a_missing_piece_names_the_install(pieces):
    model, _ = pieces
    with pytest.raises(UserError, match="needs package fake_piece_3: pip install"):
        assemble(model(names=(1, 3)))


def test_an_unknown_embedded_model_is_one_line():
    with pytest.raises(UserError, match="unknown embedded model 'llama' \\(known: gemma-3-270m"):
        load_model("embedded:llama")


def test_the_coder_gguf_is_the_published_one():
    path = gguf_for(QWEN_CODER.name)
    assert path.stat().st_size == 491_400_064


def test_the_chat_template_and_its_end_of_turn_survive_conversion():
    folder = ensure_tokenizer(gguf_for(QWEN_CODER.name))
    template = (folder / "chat_template.jinja").read_text()
    assert "<|im_start|>" in template and "<|im_end|>" in template
    assert IM_END in json.loads((folder / "generation_config.json").read_text())["eos_token_id"]
    model = EmbeddedModel(gguf_for(QWEN_CODER.name))
    assert model.has_chat_template
    text = model.chat_text([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
        "<|im_start|>assistant\n"  # fmt: skip
    assert model.tokenizer.hf.convert_tokens_to_ids("<|im_end|>") == IM_END


def test_the_base_model_has_no_chat_template(embedded_model):
    assert not embedded_model.has_chat_template
    with pytest.raises(ValueError, match="no chat template"):
        embedded_model.chat_text([{"role": "user", "content": "hi"}])


@pytest.fixture(scope="module")
def coder():
    return load_model(f"embedded:{QWEN_CODER.name}")


@pytest.mark.slow
def test_a_chat_reply_ends_at_the_end_of_its_turn(coder):
    messages = [{"role": "user", "content": "Reply with the single word: yes"}]
    reply = asyncio.run(coder.chat(messages, max_tokens=24))
    assert reply.form == "chat" and reply.text.strip().lower().startswith("yes")
    assert reply.completion_tokens < 24 and "<|im_end|>" not in reply.text
    assert reply.prompt_tokens == len(coder.tokenizer.encode(coder.chat_text(messages)))


@pytest.mark.slow
def test_the_coder_model_counts_with_code_in_the_repl(coder):
    task = get_task("aggregation_count", coder.tokenizer)
    sample = task.sample(1024, 0, 0)
    result = asyncio.run(make_solver("repl", {"max_iterations": 4}).solve(sample, coder))
    assert task.score(result.prediction, sample) == 1.0, result.trace.calls[-1].output
    assert result.notes["form"] == "chat"
    assert any(n.kind == "exec" and "context" in (n.code or "") for n in result.trace.nodes)
