"""`hf:<checkpoint folder | .gguf file | hub id>`: any causal LM transformers loads, run in this
process on the GPU when there is one, else on the CPU.

Generation is `LocalModel`'s, the same code the embedded backend runs, so `hf:` on the embedded
model's files answers exactly as `embedded` does; what this module adds is finding the weights.
A `.gguf` file goes through the embedded backend's cached conversion (a minute once, seconds
after) rather than transformers' `gguf_file=` loading, which de-quantizes it again on every load.
"""

from __future__ import annotations

import asyncio
import re
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError, exception_line
from rlm_bench.models.checkpoint import ensure_checkpoint, ensure_tokenizer
from rlm_bench.models.hf_tokenizer import HFTokenizer
from rlm_bench.models.local_generation import LocalModel, pick_device, pick_dtype
from rlm_bench.models.options import check_options

DTYPES = ("auto", "bfloat16", "float16", "float32")
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
HUB_FILES = ("*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken")
"""What a download fetches: config, tokenizer and safetensors weights, not the .bin, .gguf or
ONNX copies many repositories also carry (they would multiply the download)."""


class HFModel(LocalModel):
    def __init__(
        self,
        source: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        attn_implementation: str | None = None,
        revision: str | None = None,
        context_window: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.kind, self.path = locate(source)
        self.device = pick_device() if device == "auto" else device
        self._dtype = dtype
        self.revision = revision
        self._context_window = context_window
        self.name = name or _default_name(self.kind, self.path, source)
        self._attn = attn_implementation
        self._hf_model = None
        self._load_lock = threading.Lock()

    @cached_property
    def folder(self) -> Path:
        """A folder holding config, tokenizer and weights (converted or downloaded if need be)."""
        if self.kind == "folder":
            return self.path
        if self.kind == "gguf":
            return ensure_checkpoint(self.path)
        return download(self.source, self.revision)

    @cached_property
    def tokenizer(self) -> HFTokenizer:
        # A GGUF's tokenizer converts without touching the weights: tasks can measure lengths
        # before the (slower) weight conversion runs.
        folder = ensure_tokenizer(self.path) if self.kind == "gguf" else self.folder
        return HFTokenizer(folder, self.name)

    @cached_property
    def context_window(self) -> int:
        if self._context_window:
            return self._context_window
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(self.folder)).get_text_config()
        window = getattr(config, "max_position_embeddings", None)
        if not window:
            raise UserError(
                f"hf: the config of {self.source} gives no context length; "
                "set the model option context_window"
            )
        return int(window)

    @property
    def dtype(self):
        import torch

        return pick_dtype(self.device) if self._dtype == "auto" else getattr(torch, self._dtype)

    @property
    def attn_implementation(self) -> str:
        """On a CPU, the project's block-wise sliding-window kernel (plain SDPA for layers and
        models without a window, so it is safe for any model); on a GPU, SDPA."""
        if self._attn:
            return self._attn
        if self.device.startswith("cuda"):
            return "sdpa"
        from rlm_bench.models import local_attention

        return local_attention.NAME

    def load(self):
        with self._load_lock:  # `check()` may load outside the generation lock
            if self._hf_model is None:
                self._hf_model = self._load()
        return self._hf_model

    def _load(self):
        import torch
        from transformers import AutoModelForCausalLM

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"hf: device {self.device!r} asked for, but torch sees no CUDA GPU")
        attn = self.attn_implementation  # imports (registers) the local kernel when chosen
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(self.folder), dtype=self.dtype, attn_implementation=attn
            )
        except (OSError, ValueError) as exc:
            raise UserError(f"hf: cannot load {self.source}: {exception_line(exc)}") from None
        return model.to(self.device).eval()

    async def check(self) -> None:
        """Find (download, convert) and load the weights now: a bad path, an unknown hub id or
        an architecture transformers cannot run is one line before the run, not in every row."""
        await asyncio.to_thread(self.load)
        self.context_window  # noqa: B018  (reads the config: a missing length is an error now)

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            "backend": "hf",
            "name": self.name,
            "source": self.source,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device,
            "attn_implementation": self.attn_implementation,
            "context_window": self.context_window,
        }
        if self.revision:
            info["revision"] = self.revision
        return info


def locate(source: str) -> tuple[str, Path]:
    """("folder" | "gguf" | "hub", path). A string that is not on disk is a hub id only if it is
    shaped like one (`org/name`); anything path-like that is missing is a missing path."""
    if not source:
        raise UserError("the hf backend needs a model: hf:<folder>, hf:<file.gguf> or hf:<hub id>")
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"hf: {path} is not a transformers checkpoint (no config.json)")
        return "folder", path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise UserError(f"hf: {path} is neither a checkpoint folder nor a .gguf file")
        return "gguf", path
    if HUB_ID.fullmatch(source) and not source.lower().endswith(".gguf"):
        return "hub", path
    raise UserError(f"hf: model path not found: {path}")


def download(repo_id: str, revision: str | None) -> Path:
    """The hub's local snapshot (fetched once, then reused from the Hugging Face cache)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_FILES)))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"hf: {repo_id!r} is not a local path and could not be fetched from the Hugging Face "
            f"Hub: {exception_line(exc)}"
        ) from None


def _default_name(kind: str, path: Path, source: str) -> str:
    if kind == "hub":
        return source
    return path.stem if kind == "gguf" else path.resolve().name


def hf_from_spec(arg: str, options: dict[str, Any]) -> HFModel:
    """`hf:<arg>` with the suite's model options: device (auto, cpu, cuda, cuda:N), dtype (auto,
    bfloat16, float16, float32), attn_implementation, revision (hub ids), context_window, name."""
    known = {
        "device": str,
        "dtype": str,
        "attn_implementation": str,
        "revision": str,
        "context_window": int,
        "name": str,
    }
    check_options("hf", options, known)
    if options.get("dtype", "auto") not in DTYPES:
        raise UserError(f"hf model option dtype must be one of {', '.join(DTYPES)}")
    device = options.get("device", "auto")
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise UserError(f"hf model option device must be auto, cpu, cuda or cuda:N: {device!r}")
    if options.get("context_window", 1) < 1:
        raise UserError("hf model option context_window must be positive")
    return HFModel(arg, **options)
