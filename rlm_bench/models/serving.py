"""`python -m rlm_bench serve`: the embedded model behind a real OpenAI-compatible server.

It is `transformers serve` on the embedded checkpoint, with two changes that make the served
model the same model the `embedded` backend runs, so a run through `openai:` can be checked
against an embedded run number for number:
- a chat template (Gemma's turns): the base model's GGUF carries none, and without one the
  server answers 500 to every `/v1/chat/completions` request;
- the blockwise sliding-window attention of `local_attention.py`, installed under the name
  `sdpa` in this process only (the server accepts only its own list of attention names). It is
  the embedded backend's kernel: the same greedy answers, 2.6x faster at 8K tokens.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.models.checkpoint import cache_root, default_gguf, ensure_checkpoint

GEMMA_TURNS = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def served_folder(gguf: Path | None = None) -> Path:
    """The embedded checkpoint, linked file by file, plus the chat template. The link folder is
    named like the checkpoint, so the model id clients send is stable across restarts."""
    checkpoint = ensure_checkpoint(gguf or default_gguf())
    folder = cache_root() / "served" / checkpoint.name
    folder.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.iterdir():
        link = folder / file.name
        if not link.exists():
            if link.is_symlink():  # dangling: the checkpoint was rebuilt
                link.unlink()
            link.symlink_to(file)
    template = folder / "chat_template.jinja"
    if not template.is_file() or template.read_text() != GEMMA_TURNS:
        template.write_text(GEMMA_TURNS)
    return folder


def use_local_attention_as_sdpa() -> None:
    """Route the server's `sdpa` attention through the embedded backend's blockwise kernel. Its
    fallback (decoding, full-attention layers) calls transformers' SDPA function directly, so
    nothing recurses; masks stay SDPA's own."""
    from transformers import AttentionInterface

    from rlm_bench.models.local_attention import local_block_attention

    AttentionInterface.register("sdpa", local_block_attention)


def _check_free(host: str, port: int) -> None:
    """Before a model loads for nothing: uvicorn finds a taken port only after the load."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UserError(f"cannot serve on {host}:{port}: {reason}") from None


def serve(host: str, port: int, *, continuous_batching: bool = False) -> None:
    """Blocks until the server stops (Ctrl-C). Continuous batching brings its own paged
    attention, so the blockwise kernel is used only without it."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError(
            "serving needs the serving extra: pip install 'transformers[serving]'"
        ) from None
    _check_free(host, port)
    folder = served_folder()
    if not continuous_batching:
        use_local_attention_as_sdpa()
    base_url = f"http://{host}:{port}/v1"
    print(f"serving the embedded model at {base_url} (model id {folder}); run against it with:")
    print(f"  python -m rlm_bench run --model openai:{folder} --base-url {base_url}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub about it
    from transformers.cli.serve import Serve

    Serve(
        force_model=str(folder),
        host=host,
        port=port,
        dtype="bfloat16",
        attn_implementation=None if continuous_batching else "sdpa",
        continuous_batching=continuous_batching,
    )
