"""One random stream per sample, so a sample never depends on which others were generated."""

from __future__ import annotations

import random


def sample_rng(task: str, length: int, seed: int, index: int) -> random.Random:
    """A string seed is hashed with SHA-512 by `random.Random`, unlike `hash()`, which changes
    from one interpreter run to the next."""
    return random.Random(f"{task}:{seed}:{length}:{index}")
