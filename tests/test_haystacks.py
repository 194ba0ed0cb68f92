"""Haystack sources (noise, essay, files, hf) and structures (coherent, shuffled)."""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import islice
from pathlib import Path

import datasets
import pytest

from rlm_bench.errors import UserError
from rlm_bench.tasks import haystacks
from rlm_bench.tasks.base import length_tolerance
from rlm_bench.tasks.filler import PEOPLE, TIME_STEPS
from rlm_bench.tasks.fitting import fit_units
from rlm_bench.tasks.haystacks import (
    MAX_SENTENCE_WORDS,
    SHUFFLE_WINDOW,
    Files,
    check_haystack,
    haystack_units,
    make_haystack,
    split_text,
)

DOCS = {
    "a.txt": "Alpha one. Alpha two!\n\nAlpha three? Alpha four.",
    "b/c.md": "# Heading of c\n\nCharlie one.\nCharlie\ttwo  wraps\r\nacross lines."
    "\n\n\n\nCharlie three.",
    "b/d.TXT": "Delta one. Delta two.",
    "e.csv": "not,a,text,file",
    "f.txt": "   \n\n  ",
}
"""Sorted text files: a.txt, b/c.md, b/d.TXT (f.txt is blank, e.csv is not text)."""

ORDER = [
    ["Alpha one.", "Alpha two!"],
    ["Alpha three?", "Alpha four."],
    ["# Heading of c"],
    ["Charlie one.", "Charlie two wraps across lines."],
    ["Charlie three."],
    ["Delta one.", "Delta two."],
]
DOC_PARAGRAPHS = [ORDER[0:2], ORDER[2:5], ORDER[5:6]]


def draw(units, n: int) -> list[str]:
    return list(islice(units, n))


def paragraph_units(paragraphs: list[list[str]]) -> list[str]:
    return [("\n\n" if i == 0 else " ") + s for p in paragraphs for i, s in enumerate(p)]


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    return folder


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    return write_docs(tmp_path_factory.mktemp("docs"), DOCS)


ROWS = {
    "body": [
        "Row zero first. Row zero second.",
        "",
        None,
        "Row three only.\n\nRow three again.",
        "Row four says hello. Row four says goodbye.",
    ],
    "label": [0, 1, 2, 3, 4],
}


@pytest.fixture(scope="module")
def hf_dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hf") / "single"
    datasets.Dataset.from_dict(ROWS).save_to_disk(str(path))
    return path


@pytest.fixture(scope="module")
def hf_dict(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hf") / "dict"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["Train text here. More train text."]}),
            "test": datasets.Dataset.from_dict({"text": ["Test text here. More test text."]}),
        }
    ).save_to_disk(str(path))
    return path


@pytest.fixture(scope="module")
def specs(docs, hf_dataset, hf_dict) -> list[str]:
    return ["noise", "essay", f"files:{docs}", f"hf:{hf_dataset}:body", f"hf:{hf_dict}"]


# --- determinism and unit invariants ---------------------------------------------------------


@pytest.mark.parametrize("structure", ["coherent", "shuffled"])
def test_every_source_is_deterministic_by_seed(specs, structure):
    for spec in specs:
        first = draw(haystack_units(spec, structure, random.Random(5)), 700)
        again = draw(haystack_units(spec, structure, random.Random(5)), 700)
        assert first == again, spec
    essay = draw(haystack_units("essay", structure, random.Random(6)), 700)
    assert essay != draw(haystack_units("essay", structure, random.Random(5)), 700)


@pytest.mark.parametrize("structure", ["coherent", "shuffled"])
def test_units_carry_one_separator_and_no_other_newline(specs, structure):
    for spec in specs:
        for unit in draw(haystack_units(spec, structure, random.Random(1)), 1200):
            body = unit[2:] if unit.startswith("\n\n") else unit[1:]
            assert unit[0] in " \n", (spec, unit)
            assert body and body == body.strip(), (spec, unit)
            assert "\n" not in body and "\r" not in body and "  " not in body, (spec, unit)


def test_haystack_units_takes_the_same_draws_whatever_the_source(specs):
    after = set()
    for spec in specs:
        for structure in ("coherent", "shuffled"):
            rng = random.Random(9)
            draw(haystack_units(spec, structure, rng), 600)
            after.add(rng.random())
    assert len(after) == 1


# --- splitting -------------------------------------------------------------------------------


def test_split_text_cuts_sentences_paragraphs_and_overlong_runs():
    text = 'He said "Stop." Then left!  Why?\nNobody knew.\n \n\nNew   paragraph (really.) End'
    assert split_text(text) == [
        ('He said "Stop."', "Then left!", "Why?", "Nobody knew."),
        ("New paragraph (really.)", "End"),
    ]
    words = " ".join(f"w{n}" for n in range(MAX_SENTENCE_WORDS * 2 + 5))
    pieces = split_text(words)[0]
    assert [len(p.split()) for p in pieces] == [MAX_SENTENCE_WORDS, MAX_SENTENCE_WORDS, 5]
    assert split_text(" \n\n\t") == []


# --- files -----------------------------------------------------------------------------------


def test_files_reads_text_files_recursively_in_sorted_order(docs):
    assert Files(str(docs)).documents() == [[tuple(p) for p in doc] for doc in DOC_PARAGRAPHS]


def test_files_start_where_the_rng_says_and_cycle_forever(docs):
    everything = paragraph_units(ORDER)
    starts = set()
    for seed in range(40):
        mirror = random.Random(seed)
        document = mirror.randrange(len(DOC_PARAGRAPHS))
        paragraph = mirror.randrange(len(DOC_PARAGRAPHS[document]))
        skipped = sum(len(p) for d in DOC_PARAGRAPHS[:document] for p in d)
        skipped += sum(len(p) for p in DOC_PARAGRAPHS[document][:paragraph])
        units = draw(Files(str(docs)).units(random.Random(seed)), 3 * len(everything))
        rotated = everything[skipped:] + everything[:skipped]
        assert units == rotated * 3
        starts.add(skipped)
    assert len(starts) == 6  # every paragraph start is reachable


def test_files_folder_is_read_once_per_haystack(docs, monkeypatch, tmp_path):
    reads = []
    real_read = haystacks._read
    monkeypatch.setattr(haystacks, "_read", lambda path: reads.append(path) or real_read(path))
    source = Files(str(docs))
    for seed in range(3):
        draw(source.units(random.Random(seed)), 50)
    assert len(reads) == 4  # four .txt/.md files, read once
    fresh = write_docs(tmp_path, {"x.txt": "Only one sentence."})
    for seed in range(3):
        draw(haystack_units(f"files:{fresh}", "shuffled", random.Random(seed)), 10)
    assert len(reads) == 5  # haystack_units shares one Files object per spec


def test_files_fit_any_length_by_cycling(docs, tokenizer):
    fitted = fit_units(
        haystack_units(f"files:{docs}", "coherent", random.Random(0)), 900, tokenizer
    )
    assert abs(fitted.tokens - 900) <= length_tolerance(900)
    assert fitted.text.count("Delta two.") > 5


# --- hf --------------------------------------------------------------------------------------


def test_hf_reads_a_column_of_a_saved_dataset_skipping_empty_rows(hf_dataset):
    text_rows = [split_text(t) for t in ROWS["body"] if t]
    everything = paragraph_units([list(p) for doc in text_rows for p in doc])
    seen = set()
    for seed in range(30):
        units = draw(haystack_units(f"hf:{hf_dataset}:body", "coherent", random.Random(seed)), 12)
        start = everything.index(units[0])
        assert units == (everything[start:] + everything[:start]) * 2
        seen.add(units[0])
    assert {"\n\nRow zero first.", "\n\nRow three only.", "\n\nRow four says hello."} <= seen


def test_hf_dataset_dict_takes_train_or_the_named_split(hf_dict, tmp_path):
    def text(spec: str) -> str:
        return "".join(draw(haystack_units(spec, "coherent", random.Random(0)), 4))

    assert "Train text" in text(f"hf:{hf_dict}") and "Test" not in text(f"hf:{hf_dict}")
    assert "Test text" in text(f"hf:{hf_dict}:text:test")
    assert "Test text" in text(f"hf:{hf_dict}::test")
    only = tmp_path / "only"
    datasets.DatasetDict(
        {"validation": datasets.Dataset.from_dict({"text": ["Valid text."]})}
    ).save_to_disk(str(only))
    assert text(f"hf:{only}") == "\n\nValid text." * 4


# --- errors ----------------------------------------------------------------------------------


def error_of(spec: str, structure: str = "coherent") -> str:
    with pytest.raises(UserError) as caught:
        haystack_units(spec, structure, random.Random(0))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_file_errors_name_the_problem(tmp_path):
    assert "no such folder" in error_of(f"files:{tmp_path / 'missing'}")
    write_docs(tmp_path / "csv", {"data.csv": "a,b", "notes.rst": "Some text."})
    assert "no .txt or .md files" in error_of(f"files:{tmp_path / 'csv'}")
    write_docs(tmp_path / "blank", {"one.txt": "", "two.md": " \n\n \t\n"})
    assert "hold no text" in error_of(f"files:{tmp_path / 'blank'}")
    assert "needs a folder" in error_of("files:")


def test_hf_errors_name_the_problem(hf_dataset, hf_dict, tmp_path):
    assert "no such dataset file or folder" in error_of(f"hf:{tmp_path / 'nothing'}")
    missing = error_of(f"hf:{hf_dataset}:content")
    assert "no column 'content'" in missing and "body, label" in missing
    assert "column 'label'" in error_of(f"hf:{hf_dataset}:label")
    assert "no split 'dev'" in error_of(f"hf:{hf_dict}:text:dev") and "test, train" in error_of(
        f"hf:{hf_dict}:text:dev"
    )
    assert "without splits" in error_of(f"hf:{hf_dataset}:body:train")
    assert "needs a dataset" in error_of("hf:")
    datasets.Dataset.from_dict({"text": ["", None]}).save_to_disk(str(tmp_path / "empty"))
    assert "no text" in error_of(f"hf:{tmp_path / 'empty'}")


def test_hf_loader_failures_become_one_line(monkeypatch):
    def fail(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'someone/nowhere' on the Hub\nretry details")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    message = error_of("hf:someone/nowhere:text:validation")
    assert "someone/nowhere" in message and "split 'validation'" in message
    assert "Couldn't reach" in message and "retry" not in message


def test_spec_and_structure_errors(docs):
    assert "unknown haystack 'web'" in error_of("web")
    assert "takes no argument" in error_of("essay:long")
    assert "unknown haystack structure 'sorted'" in error_of("essay", "sorted")
    with pytest.raises(UserError, match="no such folder"):
        check_haystack("files:/no/such/folder/anywhere", "coherent")
    check_haystack(f"files:{docs}", "shuffled")
    assert make_haystack("noise").name == "noise"


# --- structure -------------------------------------------------------------------------------


def test_shuffled_permutes_sentences_within_windows_and_keeps_separators(specs):
    for spec in specs:
        coherent = draw(haystack_units(spec, "coherent", random.Random(3)), 3 * SHUFFLE_WINDOW)
        shuffled = draw(haystack_units(spec, "shuffled", random.Random(3)), 3 * SHUFFLE_WINDOW)
        assert [u[0] for u in shuffled] == [u[0] for u in coherent], spec
        for start in range(0, len(coherent), SHUFFLE_WINDOW):
            before = [u.lstrip() for u in coherent[start : start + SHUFFLE_WINDOW]]
            after = [u.lstrip() for u in shuffled[start : start + SHUFFLE_WINDOW]]
            assert Counter(before) == Counter(after), spec
            if len(set(before)) > 1:
                assert before != after, spec


# --- the essay -------------------------------------------------------------------------------


def paragraphs_of(units: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    for unit in units:
        if unit.startswith("\n\n"):
            paragraphs.append([])
        if paragraphs:
            paragraphs[-1].append(unit.strip())
    return paragraphs[:-1]  # the last may be cut short


def first_person(sentence: str) -> str | None:
    return next((w for w in re.findall(r"[a-z-]+", sentence.lower()) if w in PEOPLE), None)


def protagonist_recurs(paragraph: list[str]) -> bool:
    """The first person named in the first sentence is named again ("the baker") later."""
    noun = first_person(paragraph[0])
    return any(re.search(rf"\bthe {noun}\b", s, re.IGNORECASE) for s in paragraph[1:])


def test_essay_paragraphs_follow_one_protagonist_and_time_moves_forward():
    units = draw(haystack_units("essay", "coherent", random.Random(11)), 3000)
    paragraphs = paragraphs_of(units)
    assert len(paragraphs) > 300
    assert all(protagonist_recurs(p) for p in paragraphs)
    steps = [s.capitalize() for s in TIME_STEPS]
    for paragraph in paragraphs:
        hours = [steps.index(s.split(",")[0]) for s in paragraph if s.split(",")[0] in steps]
        assert hours == sorted(set(hours)), paragraph
    assert sum(len(p) > 1 and p[1].split(",")[0] in steps for p in paragraphs) > 50
    text = "".join(units)
    assert not re.search(r"\d", text) and "magic number" not in text.lower()


def test_shuffling_the_essay_breaks_its_paragraphs():
    units = draw(haystack_units("essay", "shuffled", random.Random(11)), 3000)
    paragraphs = [p for p in paragraphs_of(units) if len(p) > 1 and first_person(p[0])]
    assert len(paragraphs) > 300
    assert sum(map(protagonist_recurs, paragraphs)) / len(paragraphs) < 0.3


def test_shuffled_essay_fits_exactly(tokenizer):
    fitted = fit_units(haystack_units("essay", "shuffled", random.Random(2)), 3000, tokenizer)
    assert abs(fitted.tokens - 3000) <= length_tolerance(3000)
    assert fitted.tokens == tokenizer.count(fitted.text)
