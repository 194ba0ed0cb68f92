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
from rlm_bench.registry import is_import_path

BUILTIN_DIR = Path(__file__).parent


@dataclass(frozen=True)
class SolverSpec:
    label: str
    solver: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """A task by registered name, with its options and the label its samples are filed under."""

    label: str
    task: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: list[TaskSpec]
    lengths: list[int]
    solvers: list[SolverSpec]
    samples: int = 4
    seed: int = 0
    model: str = "embedded"
    model_options: dict[str, Any] = field(default_factory=dict)
    """Backend settings: `base_url`, `endpoint`, `context_window`, `tokenizer`, `timeout_s`,
    `max_retries` (those a backend does not take are an error naming them)."""
    pricing: dict[str, Any] = field(default_factory=dict)
    """USD per million tokens by model name, `{name: {prompt: P, completion: C}}`, over the
    built-in table."""
    cache: bool = True
    """Serve repeated (temperature-0) calls from the SQLite response cache."""
    sub_model: str | None = None
    """The model REPL solvers hand `llm_query` to (a model spec); the run's model when unset."""
    sub_model_options: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 2
    """Model calls in flight at once (for every backend), and samples in progress."""
    depths: list[float] | None = None
    """Needle depths (fractions of the haystack) cycled over the samples of every needle task."""
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The suite as a suite file would say it, so `suite_from_dict` reads it back."""
        data = asdict(self)
        data["tasks"] = [
            t.task if t.label == t.task and not t.params
            else {"label": t.label, "task": t.task, **t.params}
            for t in self.tasks
        ]  # fmt: skip
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


def default_label(name: str) -> str:
    """A registered name labels itself; an import path is labelled by its last attribute."""
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if is_import_path(name) else name


def _parse_spec(item: Any, kind: str, where: str) -> tuple[str, str, dict[str, Any]]:
    """`name`, `name:key=value:key=value`, or a mapping `{label: ..., <kind>: name, key: value}`
    -> (label, name, params). A value may itself hold colons (`haystack=files:/my/docs`). The
    name may be an import path, `package.module:Class`, labelled by the class's name."""
    if isinstance(item, str):
        name, *pieces = item.split(":")
        if pieces and is_import_path(f"{name}:{pieces[0]}"):
            name = f"{name}:{pieces.pop(0)}"
        pairs: list[str] = []
        for piece in pieces:
            if "=" in piece or not pairs:
                pairs.append(piece)
            else:
                pairs[-1] += ":" + piece
        params: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep or not key:
                raise UserError(f"{where}: {pair!r} in {item!r} is not key=value")
            value = yaml.safe_load(raw)
            params[key] = raw if isinstance(value, dict) else value
        label = default_label(name) + "".join(f"_{k}{v}" for k, v in params.items())
        return label, name, params
    if isinstance(item, dict):
        entry = dict(item)
        name = entry.pop(kind, None)
        if not isinstance(name, str):
            raise UserError(f"{where}: a {kind} mapping needs a '{kind}' name")
        return str(entry.pop("label", default_label(name))), name, entry
    raise UserError(f"{where}: expected a {kind} name or mapping, got {item!r}")


def parse_solver(item: Any, where: str) -> SolverSpec:
    """A solver entry: `direct`, `recursive:depth=2:fanout=4`, or a mapping
    `{label: recursive_d2, solver: recursive, depth: 2}`."""
    label, name, params = _parse_spec(item, "solver", where)
    return SolverSpec(label=label, solver=name, params=params)


def solver_in(suite: Suite, item: str, where: str) -> SolverSpec:
    """One of `suite`'s solvers by its label, or else a solver spec."""
    by_label = {s.label: s for s in suite.solvers}
    return by_label.get(item) or parse_solver(item, where)


def parse_task(item: Any, where: str) -> TaskSpec:
    """A task entry: `niah_single`, `niah_single:haystack=noise:value_kind=uuid`, or a mapping
    `{label: niah_noise, task: niah_single, haystack: noise}`."""
    label, name, params = _parse_spec(item, "task", where)
    return TaskSpec(label=label, task=name, params=params)


def parse_depths(values: Any, where: str) -> list[float]:
    items = values if isinstance(values, list) else [values]
    try:
        depths = [float(v) for v in items]
    except (TypeError, ValueError):
        raise UserError(f"{where}: expected fractions from 0 to 1, got {values!r}") from None
    if not depths or any(not 0.0 <= d <= 1.0 for d in depths):
        raise UserError(f"{where}: expected fractions from 0 to 1, got {values!r}")
    return depths


def _unique_labels(labels: list[str], where: str, kind: str) -> None:
    if len(set(labels)) != len(labels):
        raise UserError(f"{where}: two {kind} share a label; give each a 'label'")


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

    tasks = [parse_task(t, where("tasks")) for t in _expect(data["tasks"], list, where("tasks"))]
    _unique_labels([t.label for t in tasks], where("tasks"), "tasks")
    lengths = [
        parse_length(v, where("lengths")) for v in _expect(data["lengths"], list, where("lengths"))
    ]
    solvers = [
        parse_solver(s, where("solvers")) for s in _expect(data["solvers"], list, where("solvers"))
    ]
    _unique_labels([s.label for s in solvers], where("solvers"), "solvers")
    depths = data.get("depths")
    suite = Suite(
        name=str(data.get("name", Path(source).stem)),
        tasks=tasks,
        lengths=sorted(set(lengths)),
        solvers=solvers,
        samples=_expect(data.get("samples", 4), int, where("samples")),
        seed=_expect(data.get("seed", 0), int, where("seed")),
        model=_expect(data.get("model", "embedded"), str, where("model")),
        model_options=_expect(data.get("model_options", {}), dict, where("model_options")),
        pricing=_expect(data.get("pricing", {}), dict, where("pricing")),
        cache=_expect(data.get("cache", True), bool, where("cache")),
        sub_model=_optional_str(data.get("sub_model"), where("sub_model")),
        sub_model_options=_expect(
            data.get("sub_model_options", {}), dict, where("sub_model_options")
        ),
        concurrency=_expect(data.get("concurrency", 2), int, where("concurrency")),
        depths=None if depths is None else parse_depths(depths, where("depths")),
        description=str(data.get("description", "")),
    )
    if not tasks or not lengths or not solvers:
        raise UserError(f"suite {source}: tasks, lengths and solvers must each be non-empty")
    if suite.samples < 1 or suite.concurrency < 1:
        raise UserError(f"suite {source}: samples and concurrency must be at least 1")
    return suite


def _optional_str(value: Any, where: str) -> str | None:
    return None if value is None else _expect(value, str, where)


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
