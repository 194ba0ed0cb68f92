"""Kernel resource limits the worker puts on itself before any model-written code runs.

Set in the worker rather than in a `preexec_fn`, because the harness starts workers from threads
(the solver runs blocks through `asyncio.to_thread`), where `preexec_fn` is unsafe.
"""

from __future__ import annotations

import resource

_MIB = 1024 * 1024


def apply(*, memory_mb: int, cpu_s: int, file_mb: int) -> None:
    # Address space, not resident memory: an allocation past it fails at once with MemoryError
    # inside the worker, instead of the kernel's OOM killer picking a victim later.
    _lower(resource.RLIMIT_AS, memory_mb * _MIB)
    # SIGXCPU at the soft limit; SIGKILL a second later if model code catches SIGXCPU.
    _lower(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)
    # Past it a write fails with EFBIG (Python ignores SIGXFSZ): one runaway file, not a full disk.
    _lower(resource.RLIMIT_FSIZE, file_mb * _MIB)
    _lower(resource.RLIMIT_CORE, 0)


def _lower(kind: int, soft: int, hard: int | None = None) -> None:
    """Sets a limit, never above the hard limit the worker inherited (which it could not raise
    unless it ran as root)."""
    hard = soft if hard is None else hard
    _, inherited = resource.getrlimit(kind)
    if inherited != resource.RLIM_INFINITY:
        soft, hard = min(soft, inherited), min(hard, inherited)
    resource.setrlimit(kind, (soft, hard))
