"""Checking a backend's model options (from a suite's `model_options`) before anything loads."""

from __future__ import annotations

from typing import Any

from rlm_bench.errors import UserError

KIND_NAMES = {int: "an integer", str: "a string", float: "a number"}


def check_options(backend: str, options: dict[str, Any], known: dict[str, Any]) -> None:
    """An option the backend does not take, or of the wrong type, is one line naming it. `known`
    maps each option to its type (or a tuple of types); booleans never pass for numbers."""
    for key, value in options.items():
        if key not in known:
            raise UserError(
                f"the {backend} backend has no model option {key!r} (it takes {', '.join(known)})"
            )
        if not isinstance(value, known[key]) or isinstance(value, bool):
            kinds = known[key] if isinstance(known[key], tuple) else (known[key],)
            kind = KIND_NAMES[float] if float in kinds else KIND_NAMES[kinds[0]]
            raise UserError(f"{backend} model option {key} must be {kind}: {value!r}")
