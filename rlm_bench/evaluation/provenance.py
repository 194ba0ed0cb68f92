"""What makes a run reproducible: versions, the git commit, the command. Never secrets."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import rlm_bench

PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "matplotlib", "wandb")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "rlm_bench": rlm_bench.__version__,
        "python": sys.version.split()[0],
    }
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    found["platform"] = platform.platform()
    return found


def git_commit() -> str | None:
    """The commit of the rlm_bench checkout, with `-dirty` if it has uncommitted changes."""
    repo = Path(rlm_bench.__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")
