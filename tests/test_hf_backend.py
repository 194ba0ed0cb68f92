"""The `hf:` backend on the embedded model's own files: its converted checkpoint folder and its
GGUF file. Both must answer exactly as `EmbeddedModel` does, since they share its generation
code. Path handling is tested without loading anything."""

from __future__ import annotations

import asyncio

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.checkpoint import default_gguf, ensure_checkpoint
from rlm_bench.models.hf_backend import HFModel, hf_from_spec, locate

PROMPTS = [
    (
        "The capital of France is Paris. The capital of Italy is Rome.\n"
        "Question: What is the capital of Italy?\nAnswer:",
        8,
        ("\n",),
    ),
    (
        "Line 1: the magic number is 4821.\nLine 2: the sky is blue.\n"
        "What is the magic number? Answer: The magic number is",
        12,
        ("\n", "."),
    ),
]


def test_a_missing_path_is_a_user_error(tmp_path):
    for arg in (str(tmp_path / "absent"), "./absent-model", "~/absent/model.gguf", "a/b/c"):
        with pytest.raises(UserError, match="model path not found"):
            hf_from_spec(arg, {})
    with pytest.raises(UserError, match="needs a model"):
        hf_from_spec("", {})
    with pytest.raises(UserError, match="no config.json"):
        hf_from_spec(str(tmp_path), {})
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(UserError, match="neither a checkpoint folder nor a .gguf"):
        hf_from_spec(str(tmp_path / "weights.bin"), {})


def test_hub_ids_are_fetched_and_a_failed_fetch_is_one_line(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert locate("google/gemma-3-270m")[0] == "hub" and locate("gpt2")[0] == "hub"

    def offline(repo_id, **kw):
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the files on the Hub.\nCheck your network."
        )

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    model = hf_from_spec("google/gemma-3-270m", {})  # nothing is fetched before it is needed
    with pytest.raises(UserError, match="not a local path and could not be fetched") as caught:
        model.tokenizer  # noqa: B018
    assert "\n" not in str(caught.value) and model.name == "google/gemma-3-270m"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 0}, "no model option 'temperature'"),
        ({"dtype": "int4"}, "dtype must be one of"),
        ({"device": "tpu"}, "device must be"),
        ({"context_window": 0}, "context_window must be positive"),
        ({"context_window": "8k"}, "must be an integer"),
    ],
)
def test_bad_options_are_user_errors(options, message):
    with pytest.raises(UserError, match=message):
        hf_from_spec(str(default_gguf()), options)


@pytest.fixture(scope="module")
def checkpoint_model() -> HFModel:
    return hf_from_spec(str(ensure_checkpoint(default_gguf())), {})


@pytest.fixture(scope="module")
def gguf_model() -> HFModel:
    return hf_from_spec(str(default_gguf()), {})


@pytest.mark.slow
def test_checkpoint_folder_answers_as_the_embedded_model(checkpoint_model, embedded_model):
    asyncio.run(checkpoint_model.check())

    async def both(model):
        return [await model.complete(p, max_tokens=n, stop=s) for p, n, s in PROMPTS]

    ours, theirs = asyncio.run(both(checkpoint_model)), asyncio.run(both(embedded_model))
    for mine, ref, (prompt, _, stop) in zip(ours, theirs, PROMPTS, strict=True):
        assert (mine.text, mine.prompt_tokens, mine.completion_tokens) == (
            ref.text,
            ref.prompt_tokens,
            ref.completion_tokens,
        )
        assert mine.prompt_tokens == checkpoint_model.tokenizer.count(prompt) + 1  # + <bos>
        assert 1 <= mine.completion_tokens and not any(s in mine.text for s in stop)
    assert ours[0].text.strip() == "Rome" and ours[1].text.strip() == "4821"
    info = checkpoint_model.describe()
    assert info["backend"] == "hf" and info["device"] == "cpu"
    assert info["context_window"] == embedded_model.context_window == 32768
    assert info["dtype"] == embedded_model.describe()["dtype"]


@pytest.mark.slow
def test_gguf_file_loads_through_the_cached_conversion(gguf_model, embedded_model):
    assert gguf_model.kind == "gguf" and gguf_model.name == embedded_model.name
    assert gguf_model.tokenizer.count("Hello there.") == embedded_model.tokenizer.count(
        "Hello there."
    )
    prompt, n, stop = PROMPTS[0]

    async def concurrent():  # calls queue on the model's lock, as the runner's would
        calls = (gguf_model.complete(prompt, max_tokens=n, stop=stop) for _ in range(2))
        return await asyncio.gather(*calls)

    first, second = asyncio.run(concurrent())
    ref = asyncio.run(embedded_model.complete(prompt, max_tokens=n, stop=stop))
    assert first.text == second.text == ref.text == " Rome"
    assert first.prompt_tokens == ref.prompt_tokens and first.latency_s > 0
    assert gguf_model.folder == ensure_checkpoint(default_gguf())
