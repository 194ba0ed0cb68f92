"""Opening a table of rows with `datasets`, wherever it lives: the hub, a `save_to_disk` folder, a
parquet file or a JSON-lines file.

Benchmarks that ship their data (OOLONG, RULER's prepared files) and the `hf:` haystack all open
tables here, so each gets the same answers to the same mistakes: a path that does not exist, a
split the data does not have, a column it lacks, a hub that cannot be reached. Each is one line
naming what is wrong, prefixed with the caller's label. A table is memory-mapped Arrow: opening a
multi-gigabyte benchmark costs the rows read, not its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError

FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}
"""The `datasets` builder that reads each kind of local file."""


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or Path(name).exists()


def saved_to_disk(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def open_table(
    source: str,
    *,
    label: str,
    split: str | None = None,
    config: str | None = None,
    columns: Sequence[str] = (),
    default_split: str = "train",
) -> Any:
    """The split `split` of `source` as a `datasets.Dataset`, checked to have `columns`.

    `source` is a hub id (`oolongbench/oolong-synth`), a `save_to_disk` folder, or a `.parquet`,
    `.jsonl` or `.json` file. A local file has one split of its own, so `split` is ignored for
    it; `config` is the hub's configuration name (`dnd`)."""
    table = _load(source, label=label, split=split, config=config, default_split=default_split)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UserError(
            f"{label}: {source} has no column {missing[0]!r} "
            f"(columns: {', '.join(table.column_names)})"
        )
    if not len(table):
        raise UserError(f"{label}: {source} has no rows")
    return table


def _load(
    source: str, *, label: str, split: str | None, config: str | None, default_split: str
) -> Any:
    path = Path(source).expanduser()
    if looks_like_path(source) and not path.exists():
        raise UserError(f"{label}: no such dataset file or folder {source}")
    if path.is_dir() and saved_to_disk(path):
        return _pick_split(_call(label, "load_from_disk", str(path)), split, label, default_split)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            known = ", ".join(sorted(FILE_BUILDERS))
            raise UserError(f"{label}: cannot read {path.name} (known kinds: {known})")
        return _call(label, "load_dataset", builder, data_files=str(path), split="train")
    if path.is_dir():
        raise UserError(
            f"{label}: {source} is a folder but not one `save_to_disk` wrote "
            "(no dataset_dict.json or state.json)"
        )
    where = f" split {split or default_split!r} of" if split or config else ""
    return _call(label, "load_dataset", source, config, split=split or default_split, where=where)


def _call(label: str, function: str, *args: Any, where: str = "", **kwargs: Any) -> Any:
    import datasets
    from huggingface_hub.utils import logging as hub_logging

    # the hub client logs each retried request as a warning; the failure is said once, below
    verbosity = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        return getattr(datasets, function)(*args, **kwargs)
    except Exception as error:  # any failure of an external loader is the user's to fix
        raise UserError(f"{label}: cannot load{where} the dataset: {first_line(error)}") from None
    finally:
        hub_logging.set_verbosity(verbosity)


def _pick_split(loaded: Any, split: str | None, label: str, default_split: str) -> Any:
    splits = getattr(loaded, "keys", None)
    if splits is None:  # a single Dataset: it has no splits to choose from
        if split:
            raise UserError(
                f"{label}: split {split!r} asked of a dataset saved without splits; "
                "leave the split out"
            )
        return loaded
    names = sorted(splits())
    chosen = split or (default_split if default_split in names or len(names) != 1 else names[0])
    if chosen not in names:
        raise UserError(f"{label}: no split {chosen!r} (splits: {', '.join(names)})")
    return loaded[chosen]
