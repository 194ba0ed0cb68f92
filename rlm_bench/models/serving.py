"""`python -m rlm_bench serve`: an embedded model behind a real OpenAI-compatible server.

It is `transformers serve` on the embedded checkpoint (`embedded`, `embedded:<name>` or a GGUF
file), with two changes that make the served model the same model the `embedded` backend runs,
so a run through `openai:` can be checked against an embedded run number for number:
- a chat template: the checkpoint's own when its GGUF carries one (Qwen's ChatML), else Gemma's
  turns (the base Gemma GGUF carries none, and without one the server answers 500 to every
  `/v1/chat/completions` request);
- the blockwise sliding-window attention of `local_attention.py`, installed under the name
  `sdpa` in this process only (the server accepts only its own list of attention names). It is
  the embedded backend's kernel: the same greedy answers, 2.6x faster at 8K tokens, and plain
  SDPA for a model without sliding-window layers.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.models.checkpoint import CHAT_TEMPLATE_FILE, cache_root, ensure_checkpoint

DEFAULT_MODEL = "embedded"
SERVABLE = "embedded, embedded:<name>, gguf:<path> or a path to a .gguf file"

GEMMA_TURNS = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def served_gguf(model: str = DEFAULT_MODEL) -> Path:
    """The GGUF file a model spec names, read off the model `load_model` builds (it touches no
    weights), so `serve` and `run` resolve a spec alike. Other backends' specs are not built
    at all (a factory may import a plugin or want a key): the server needs a GGUF checkpoint."""
    from rlm_bench.models import load_model
    from rlm_bench.models.embedded import EmbeddedModel

    gguf_backed = model.partition(":")[0] in ("embedded", "gguf") or model.endswith(".gguf")
    loaded = load_model(model) if gguf_backed else None
    if not isinstance(loaded, EmbeddedModel):  # also `hf:<file>.gguf`
        raise UserError(f"serve takes {SERVABLE}, not {model!r}")
    return loaded.gguf


def served_folder(model: str = DEFAULT_MODEL) -> Path:
    """The folder the server loads for `model`, converting its checkpoint on first use."""
    return link_checkpoint(ensure_checkpoint(served_gguf(model)))


def link_checkpoint(checkpoint: Path) -> Path:
    """The checkpoint, linked file by file, plus a chat template as a file of its own (never
    written through a link into the checkpoint). The folder is named like the checkpoint, so
    the model id clients send is stable across restarts."""
    folder = cache_root() / "served" / checkpoint.name
    folder.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.iterdir():
        link = folder / file.name
        if file.name != CHAT_TEMPLATE_FILE and not link.exists():
            if link.is_symlink():  # dangling: the checkpoint was rebuilt
                link.unlink()
            link.symlink_to(file)
    _write_if_changed(folder / CHAT_TEMPLATE_FILE, chat_template(checkpoint))
    return folder


def chat_template(checkpoint: Path) -> str:
    """The checkpoint's own template (kept from its GGUF); Gemma's turns for a model without
    one, since the default model is the one base model served here."""
    own = checkpoint / CHAT_TEMPLATE_FILE
    return own.read_text() if own.is_file() else GEMMA_TURNS


def _write_if_changed(path: Path, text: str) -> None:
    """A link or a stale copy (a template written before the checkpoint kept its own) is
    replaced; an up-to-date file is left alone, so a running server's folder is not touched."""
    if not path.is_symlink() and path.is_file() and path.read_text() == text:
        return
    path.unlink(missing_ok=True)
    path.write_text(text)


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


def serve(
    host: str, port: int, *, model: str = DEFAULT_MODEL, continuous_batching: bool = False
) -> None:
    """Blocks until the server stops (Ctrl-C). Continuous batching brings its own paged
    attention, so the blockwise kernel is used only without it."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError(
            'serve needs the serve extra: pip install -e ".[serve]" (from a checkout) or '
            "pip install 'rlm_bench[serve]'"
        ) from None
    gguf = served_gguf(model)  # a bad spec is reported before a taken port
    _check_free(host, port)
    folder = link_checkpoint(ensure_checkpoint(gguf))
    if not continuous_batching:
        use_local_attention_as_sdpa()
    base_url = f"http://{host}:{port}/v1"
    print(f"serving {model} at {base_url} (model id {folder}); run against it with:")
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
