"""Name -> class registries, filled by a decorator and by Python entry points.

Third-party packages add a task, solver or backend by declaring an entry point in the group
`rlm_bench.tasks`, `rlm_bench.solvers` or `rlm_bench.models`; nothing in this package changes. A
name written as an import path, `package.module:Class`, needs no registration at all: the quickest
way to try a class that lives in a script next to the suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from rlm_bench.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._loaded_entry_points = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return decorate

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()

    def get(self, name: str) -> T:
        if is_import_path(name):
            return self._import(name)
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise UserError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def _import(self, path: str) -> T:
        module_name, _, attribute = path.partition(":")
        try:
            module = import_module(module_name)
        except ImportError as exc:
            raise UserError(f"{self.kind} {path!r}: cannot import it ({exc})") from None
        item = module
        for part in attribute.split("."):
            item = getattr(item, part, None)
            if item is None:
                raise UserError(f"{self.kind} {path!r}: {module_name} has no {attribute!r}")
        return item  # type: ignore[return-value]

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def is_import_path(name: str) -> bool:
    """`package.module:Class` (a module path, a colon, an attribute path). A dotless module needs
    a capitalized attribute (`mine:Strategy`), so a typo like `recursive:depth` stays a bad
    `key=value` rather than an import of a module named `recursive`."""
    if IMPORT_PATH.fullmatch(name) is None:
        return False
    module, _, attribute = name.partition(":")
    return "." in module or attribute[0].isupper()
