"""Haystack sources: the text a needle hides in, as an endless stream of sentence units.

A source is named by a spec string (`noise`, `essay`, `files:DIR`, `hf:DATASET[:COLUMN[:SPLIT]]`)
so suite files and `--tasks niah_single:haystack=files:/my/docs` can choose one. Units carry
their leading separator (see `fitting.join_units`); a blank line opens a paragraph.

A structure says what order the sentences come in: `coherent` (as written) or `shuffled` (the
same sentences, shuffled within windows, so the text loses its logical flow, as in Chroma's 2025
context-rot study). Tasks call `haystack_units(spec, structure, rng)` and nothing else.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from rlm_bench.errors import UserError
from rlm_bench.tasks.dataset_loading import open_table
from rlm_bench.tasks.filler import filler_units

NOISE_SENTENCES = (
    "The grass is green.",
    "The sky is blue.",
    "The sun is yellow.",
    "Here we go.",
    "There and back again.",
)
"""RULER's noise haystack: the same five sentences over and over."""

STRUCTURES = ("coherent", "shuffled")

SHUFFLE_WINDOW = 512
"""Units shuffled together: wide enough to scatter a paragraph's sentences far apart, narrow
enough that a haystack of a few hundred tokens is drawn without reading thousands of units."""

TEXT_SUFFIXES = frozenset({".txt", ".md"})

MAX_SENTENCE_WORDS = 80
"""Longer runs without sentence punctuation (tables, lists, code) are cut into pieces of this
many words, since one huge unit cannot be fitted to a short target length."""

READ_BATCH = 256
"""Documents read from a dataset at a time: one Arrow slice instead of one per row."""

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"(?<=[.!?]) |(?<=[.!?][\"'\u201d\u2019)\]]) ")
"""A space after closing punctuation, possibly after a closing quote or bracket. It runs on
text whose whitespace is already collapsed to single spaces."""

Paragraph = tuple[str, ...]
Document = list[Paragraph]


class Haystack(Protocol):
    name: str

    def units(self, rng: random.Random) -> Iterator[str]:
        """Endless sentence units; `rng` chooses where a source starts and what it generates."""


# --- splitting text into units ---------------------------------------------------------------


def _pieces(sentence: str) -> Iterator[str]:
    words = sentence.split(" ")
    for start in range(0, len(words), MAX_SENTENCE_WORDS):
        yield " ".join(words[start : start + MAX_SENTENCE_WORDS])


def split_text(text: str) -> Document:
    """Paragraphs of sentences. Whitespace inside a sentence becomes one space, so a unit never
    holds a newline besides the paragraph break it opens with."""
    document = []
    for block in PARAGRAPH_BREAK.split(text):
        flat = " ".join(block.split())
        if flat:
            sentences = SENTENCE_END.split(flat)
            document.append(tuple(p for s in sentences for p in _pieces(s)))
    return document


def _paragraph_units(paragraph: Paragraph) -> Iterator[str]:
    yield "\n\n" + paragraph[0]
    for text in paragraph[1:]:
        yield " " + text


# --- corpora: documents read in order, cycling -----------------------------------------------

ReadDocuments = Callable[[int, int], Sequence[Document]]
"""`read(start, stop)`: documents `start` to `stop` of a corpus, split into paragraphs."""


def _documents_from(read: ReadDocuments, size: int, start: int) -> Iterator[Document]:
    """Documents from `start` on, back to the first after the last: a corpus never runs out."""
    position = start
    while True:
        stop = min(position + READ_BATCH, size)
        yield from read(position, stop)
        position = stop % size


def _units_after(head: Document, documents: Iterator[Document]) -> Iterator[str]:
    for paragraph in head:
        yield from _paragraph_units(paragraph)
    for document in documents:
        for paragraph in document:
            yield from _paragraph_units(paragraph)


def corpus_units(read: ReadDocuments, size: int, rng: random.Random, label: str) -> Iterator[str]:
    """Start at a random paragraph of a random document, then read on in order, forever.

    Not a generator itself: the search for a document with text runs now, so a corpus with
    none fails at the call, not halfway through fitting a haystack."""
    documents = _documents_from(read, size, rng.randrange(size))
    for _ in range(size):
        first = next(documents)
        if first:
            break
    else:
        raise UserError(f"haystack {label}: no text in any of its {size} documents")
    return _units_after(first[rng.randrange(len(first)) :], documents)


# --- the sources -----------------------------------------------------------------------------


class Noise:
    name = "noise"

    def units(self, rng: random.Random) -> Iterator[str]:
        while True:
            for sentence in NOISE_SENTENCES:
                yield " " + sentence


class Essay:
    name = "essay"

    def units(self, rng: random.Random) -> Iterator[str]:
        return filler_units(rng)


def _text_files(folder: Path) -> list[Path]:
    files = (p for p in folder.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file())
    return sorted(files)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UserError(f"haystack files: cannot read {path}: {error.strerror}") from None


class Files:
    """Every .txt and .md file under a folder, in sorted path order, read once and kept."""

    name = "files"

    def __init__(self, folder: str) -> None:
        if not folder:
            raise UserError("haystack files: needs a folder, as files:DIR")
        self.folder = Path(folder).expanduser()
        self._documents: list[Document] | None = None

    @property
    def label(self) -> str:
        return f"files:{self.folder}"

    def documents(self) -> list[Document]:
        if self._documents is None:
            self._documents = self._load()
        return self._documents

    def _load(self) -> list[Document]:
        if not self.folder.is_dir():
            raise UserError(f"haystack {self.label}: no such folder")
        paths = _text_files(self.folder)
        if not paths:
            raise UserError(f"haystack {self.label}: no .txt or .md files in the folder")
        documents = [d for d in (split_text(_read(p)) for p in paths) if d]
        if not documents:
            raise UserError(f"haystack {self.label}: its {len(paths)} .txt/.md files hold no text")
        return documents

    def units(self, rng: random.Random) -> Iterator[str]:
        documents = self.documents()
        return corpus_units(lambda a, b: documents[a:b], len(documents), rng, self.label)


class HuggingFace:
    """A text column of a Hugging Face dataset: a local `save_to_disk` folder or anything
    `datasets.load_dataset` can load. Rows are documents, read from the memory-mapped table a
    batch at a time, so a large dataset costs no more than the text a haystack uses."""

    name = "hf"

    def __init__(self, arg: str) -> None:
        dataset, _, rest = arg.partition(":")
        column, _, split = rest.partition(":")
        if not dataset:
            raise UserError("haystack hf: needs a dataset, as hf:DATASET[:COLUMN[:SPLIT]]")
        self.dataset = dataset
        self.column = column or "text"
        self.split = split or None
        self._table: Any = None

    @property
    def label(self) -> str:
        return f"hf:{self.dataset}"

    def table(self) -> Any:
        """The chosen split, with only the chosen column."""
        if self._table is None:
            self._table = self._check_column(
                open_table(self.dataset, label=f"haystack {self.label}", split=self.split,
                           columns=[self.column])
            )  # fmt: skip
        return self._table

    def _check_column(self, table: Any) -> Any:
        dtype = getattr(table.features[self.column], "dtype", None)
        if dtype not in ("string", "large_string"):
            raise UserError(
                f"haystack {self.label}: column {self.column!r} holds "
                f"{table.features[self.column]}, not text"
            )
        return table.select_columns([self.column])

    def units(self, rng: random.Random) -> Iterator[str]:
        table = self.table()

        def read(start: int, stop: int) -> list[Document]:
            return [split_text(text or "") for text in table[start:stop][self.column]]

        return corpus_units(read, len(table), rng, self.label)


def _no_argument(source: type[Noise] | type[Essay]) -> Callable[[str], Haystack]:
    def make(arg: str) -> Haystack:
        if arg:
            raise UserError(f"haystack {source.name} takes no argument, got {arg!r}")
        return source()

    return make


HAYSTACKS: dict[str, Callable[[str], Haystack]] = {
    "noise": _no_argument(Noise),
    "essay": _no_argument(Essay),
    "files": Files,
    "hf": HuggingFace,
}
"""Source kind -> factory taking the text after `kind:` (empty when there is none)."""


def make_haystack(spec: str) -> Haystack:
    """`noise`, `essay`, or `kind:argument` for sources that need one."""
    kind, _, arg = spec.partition(":")
    if kind not in HAYSTACKS:
        raise UserError(f"unknown haystack {spec!r} (known: {', '.join(sorted(HAYSTACKS))})")
    return HAYSTACKS[kind](arg)


@lru_cache(maxsize=16)
def _shared_haystack(spec: str) -> Haystack:
    """One Haystack per spec for the whole process, so a folder or dataset is loaded once, not
    once per sample."""
    return make_haystack(spec)


# --- structure -------------------------------------------------------------------------------


def _separated(unit: str) -> tuple[str, str]:
    text = unit.lstrip()
    return unit[: len(unit) - len(text)], text


def shuffle_units(
    units: Iterator[str], rng: random.Random, window: int = SHUFFLE_WINDOW
) -> Iterator[str]:
    """The same sentences with their order shuffled within each window of `window` units. The
    separators stay where they were, so paragraph breaks fall at the same places and the text
    keeps its shape while losing its flow."""
    while True:
        separators, sentences = zip(*map(_separated, islice(units, window)), strict=True)
        shuffled = list(sentences)
        rng.shuffle(shuffled)
        yield from map(str.__add__, separators, shuffled)


def check_structure(structure: str) -> None:
    if structure not in STRUCTURES:
        raise UserError(
            f"unknown haystack structure {structure!r} (known: {', '.join(STRUCTURES)})"
        )


def haystack_units(spec: str, structure: str, rng: random.Random) -> Iterator[str]:
    """The units a task fits its haystack from.

    It takes exactly two draws from `rng`, whatever the source and structure, so draws a task
    makes afterwards are the same for every haystack variant and samples pair up across them.
    The source and the shuffle get their own streams, so a `shuffled` haystack is a permutation
    of the `coherent` one drawn with the same `rng`, window by window."""
    check_structure(structure)
    haystack = _shared_haystack(spec)
    source_rng = random.Random(rng.getrandbits(64))
    order_rng = random.Random(rng.getrandbits(64))
    units = haystack.units(source_rng)
    return shuffle_units(units, order_rng) if structure == "shuffled" else units


def check_haystack(spec: str, structure: str) -> None:
    """Raise `UserError` now, before any model loads, if `spec` or `structure` cannot be used:
    for a task's `validate`. Loads the source (once per process)."""
    haystack_units(spec, structure, random.Random(0))
