"""Suite files: which tasks, lengths, samples and solvers a run covers, validated on load.

A suite is YAML, built in (`rlm_bench/suites/<name>.yaml`) or any path. Every field is checked
here, before a model loads, so a typo costs one line of error and not a half-finished run.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from rlm_bench.errors import UserError

BUILTIN_DIR = Path(__file__).parent


@dataclass(frozen=True)
class SolverSpec:
    label: str
    solver: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: list[str]
    lengths: list[int]
    solvers: list[SolverSpec]
    samples: int = 4
    seed: int = 0
    model: str = "embedded"
    concurrency: int = 2
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The suite as a suite file would say it, so `suite_from_dict` reads it back."""
        data = asdict(self)
        data["solvers"] = [{"label": s.label, "solver": s.solver, **s.params} for s in self.solvers]
        return data


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def parse_length(value: Any, where: str = "length") -> int:
    """512, "512", "2k", "1K", "1m" -> tokens."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)([km]?)", text)
    if not match:
        raise UserError(f"{where}: {value!r} is not a length (use e.g. 512, 2k, 1m)")
    n = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
    if n < 16:
        raise UserError(f"{where}: {value!r} is too short (at least 16 tokens)")
    return n


def parse_solver(item: Any, where: str) -> SolverSpec:
    """A solver entry: `direct`, `recursive:depth=2:fanout=4`, or a mapping
    `{label: recursive_d2, solver: recursive, depth: 2}`."""
    if isinstance(item, str):
        name, *pairs = item.split(":")
        params: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep or not key:
                raise UserError(f"{where}: {pair!r} in {item!r} is not key=value")
            params[key] = yaml.safe_load(raw)
        label = name + "".join(f"_{k}{v}" for k, v in params.items())
        return SolverSpec(label=label, solver=name, params=params)
    if isinstance(item, dict):
        entry = dict(item)
        solver = entry.pop("solver", None)
        if not isinstance(solver, str):
            raise UserError(f"{where}: a solver mapping needs a 'solver' name")
        label = entry.pop("label", solver)
        return SolverSpec(label=str(label), solver=solver, params=entry)
    raise UserError(f"{where}: expected a solver name or mapping, got {item!r}")


def _expect(value: Any, kind: type, where: str) -> Any:
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise UserError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def suite_from_dict(data: Any, source: str) -> Suite:
    if not isinstance(data, dict):
        raise UserError(f"suite {source}: expected a mapping of fields at the top level")
    known = {f.name for f in fields(Suite)}
    for key in data:
        if key not in known:
            raise UserError(
                f"suite {source}: unknown field {key!r} (known: {', '.join(sorted(known))})"
            )
    for required in ("tasks", "lengths", "solvers"):
        if required not in data:
            raise UserError(f"suite {source}: missing field {required!r}")

    def where(name: str) -> str:
        return f"suite {source}: field {name!r}"

    tasks = _expect(data["tasks"], list, where("tasks"))
    for t in tasks:
        _expect(t, str, where("tasks"))
    lengths = [
        parse_length(v, where("lengths")) for v in _expect(data["lengths"], list, where("lengths"))
    ]
    solvers = [
        parse_solver(s, where("solvers")) for s in _expect(data["solvers"], list, where("solvers"))
    ]
    labels = [s.label for s in solvers]
    if len(set(labels)) != len(labels):
        raise UserError(f"{where('solvers')}: two solvers share a label; give each a 'label'")
    suite = Suite(
        name=str(data.get("name", Path(source).stem)),
        tasks=tasks,
        lengths=sorted(set(lengths)),
        solvers=solvers,
        samples=_expect(data.get("samples", 4), int, where("samples")),
        seed=_expect(data.get("seed", 0), int, where("seed")),
        model=_expect(data.get("model", "embedded"), str, where("model")),
        concurrency=_expect(data.get("concurrency", 2), int, where("concurrency")),
        description=str(data.get("description", "")),
    )
    if not tasks or not lengths or not solvers:
        raise UserError(f"suite {source}: tasks, lengths and solvers must each be non-empty")
    if suite.samples < 1 or suite.concurrency < 1:
        raise UserError(f"suite {source}: samples and concurrency must be at least 1")
    return suite


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if not path.suffix and (BUILTIN_DIR / f"{name_or_path}.yaml").is_file():
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UserError(
            f"unknown suite {name_or_path!r}: not a built-in ({', '.join(builtin_suites())}) "
            "nor a YAML file"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"suite {path}: not valid YAML{at}") from None
    return suite_from_dict(data, str(path))
