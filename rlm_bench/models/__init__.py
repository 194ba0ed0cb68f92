"""Model backends, chosen by a spec string `<backend>:<argument>` plus backend options.

`embedded` (Gemma 3 270M) or `embedded:<name>` (`models/packaged.py`), `gguf:<path>` (or a
bare `.gguf` path), `hf:<folder, .gguf file or hub id>`, `openai:<model>` (any
OpenAI-compatible server with `base_url`), `anthropic:<model>`. A backend is a factory
`(argument, options) -> Model`; its options come from the suite's `model_options` or flags such
as `--base-url`, and an option it does not take is a one-line error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Model
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.registry import Registry

Factory = Callable[[str, dict[str, Any]], Model]
BACKENDS: Registry[Factory] = Registry("model backend", "rlm_bench.models")


def no_options(backend: str, options: dict[str, Any]) -> None:
    if options:
        raise UserError(
            f"the {backend} backend takes no model options (got {', '.join(sorted(options))})"
        )


@BACKENDS.register("embedded")
def _embedded(arg: str, options: dict[str, Any]) -> Model:
    from rlm_bench.models.packaged import gguf_for

    no_options("embedded", options)
    return EmbeddedModel(gguf_for(arg) if arg else None)


@BACKENDS.register("gguf")
def _gguf(arg: str, options: dict[str, Any]) -> Model:
    no_options("gguf", options)
    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    return EmbeddedModel(path)


@BACKENDS.register("openai")
def _openai(arg: str, options: dict[str, Any]) -> Model:
    from rlm_bench.models.openai_backend import openai_from_spec

    return openai_from_spec(arg, options)


@BACKENDS.register("anthropic")
def _anthropic(arg: str, options: dict[str, Any]) -> Model:
    from rlm_bench.models.anthropic_backend import anthropic_from_spec

    return anthropic_from_spec(arg, options)


@BACKENDS.register("hf")
def _hf(arg: str, options: dict[str, Any]) -> Model:
    from rlm_bench.models.hf_backend import hf_from_spec

    return hf_from_spec(arg, options)


def load_model(spec: str, options: dict[str, Any] | None = None) -> Model:
    """`embedded` (Gemma 3 270M) or `embedded:<name>` (`models/packaged.py`), `gguf:<path>`, a
    bare path to a `.gguf` file, or `<backend>:<arg>`."""
    options = dict(options or {})
    if spec.endswith(".gguf") and ":" not in spec.split("/")[0]:
        return _gguf(spec, options)
    backend, _, arg = spec.partition(":")
    return BACKENDS.get(backend)(arg, options)


__all__ = ["BACKENDS", "Completion", "Model", "load_model"]
