"""Model backends, chosen by a spec string: `embedded`, `gguf:<path>` or a `.gguf` path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Model
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.registry import Registry

BACKENDS: Registry[Callable[[str], Model]] = Registry("model backend", "rlm_bench.models")


@BACKENDS.register("embedded")
def _embedded(arg: str) -> Model:
    if arg:
        raise UserError(f"the embedded backend takes no argument (got {arg!r})")
    return EmbeddedModel()


@BACKENDS.register("gguf")
def _gguf(arg: str) -> Model:
    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    return EmbeddedModel(path)


def load_model(spec: str) -> Model:
    """`embedded`, `gguf:<path>`, a bare path to a `.gguf` file, or `<backend>:<arg>`."""
    if spec.endswith(".gguf") and ":" not in spec.split("/")[0]:
        return _gguf(spec)
    backend, _, arg = spec.partition(":")
    return BACKENDS.get(backend)(arg)


__all__ = ["BACKENDS", "Completion", "Model", "load_model"]
