"""A response cache, so that running a finished suite again makes no model calls.

Temperature-0 completions are a function of (backend, model, parameters, prompt), and chat
replies of the same with the messages in place of the prompt, so they are stored in one SQLite
file keyed by the sha256 of a canonical JSON of those. SQLite because it is in the standard
library and makes one file safe to share: WAL mode lets readers go on while a writer commits,
and a busy timeout makes two runs on the same cache wait for each other's one-row writes
instead of failing. (WAL needs a local disk; it does not work over NFS.)

The SQLite calls are synchronous, on the event loop's thread. Each is one primary-key lookup or
a one-row insert, well under a millisecond, so a hop to a worker thread would cost about as
much as the work and would need its own lock, since a connection serves one statement at a
time. The only long wait is for another process's write lock, and their writes are one row.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import (
    Completion,
    Message,
    Model,
    ModelWrapper,
    PromptForm,
    check_messages,
)
from rlm_bench.models.checkpoint import cache_root

KEY_VERSION = 1
"""Part of every key: bump it when what a key means changes, and old entries stop matching."""

BUSY_TIMEOUT_S = 30.0
RESERVED = ("max_tokens", "stop", "prompt", "messages", "form")
"""Request fields that come from each call, not from the model's `key_parts`."""

_COLUMNS = "text, prompt_tokens, completion_tokens, latency_s, cost_usd"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    cost_usd REAL NOT NULL,
    created_at REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """Next to the converted checkpoints, under `RLM_BENCH_CACHE` when it is set."""
    return cache_root() / "responses.sqlite"


def canonical_json(value: Any) -> str:
    """One spelling per value, so equal requests hash equally: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_fields(
    key_parts: Mapping[str, Any],
    max_tokens: int,
    stop: tuple[str, ...],
    form: PromptForm = "completion",
) -> dict[str, Any]:
    """Everything a completion depends on except the prompt or messages (stored with each
    entry, so a cache file can be inspected or pruned by backend, model and form). Only a chat
    request names its form: completion requests keep the fields they had before chat existed,
    so their stored entries still hit."""
    fields = {"key_version": KEY_VERSION, **key_parts, "max_tokens": max_tokens, "stop": list(stop)}
    return fields if form == "completion" else {**fields, "form": form}


def request_key(request: Mapping[str, Any], asked: Mapping[str, Any]) -> str:
    """`asked` (the prompt or the messages) is hashed but never stored, so a cache file holds
    no context text."""
    return hashlib.sha256(canonical_json({**request, **asked}).encode()).hexdigest()


def cache_key(
    key_parts: Mapping[str, Any], prompt: str, *, max_tokens: int, stop: tuple[str, ...]
) -> str:
    return request_key(request_fields(key_parts, max_tokens, stop), {"prompt": prompt})


class ResponseCache:
    """One SQLite file of completions by key, opened (and created) at construction so that a
    bad file fails before a run starts."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        # A connection is not for two statements at once; the lock lets the cache be shared by
        # threads (a run's event loop, a progress thread) as well as by coroutines.
        self._lock = threading.Lock()
        self._db = self._open()

    def _fail(self, exc: BaseException) -> UserError:
        return UserError(
            f"response cache {self.path} is unusable ({exc}); delete it or run with --no-cache"
        )

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._fail(exc) from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a crashed process; a power cut may lose the last
            # few entries, which costs only their calls again.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.execute(f"SELECT key, request, {_COLUMNS}, created_at FROM responses LIMIT 0")
        except sqlite3.Error as exc:
            db.close()
            raise self._fail(exc) from None
        return db

    def get(self, key: str) -> Completion | None:
        """The stored completion, marked `cached`, with the latency and cost of the call that
        made it; None on a miss. Rows do not record their form (the key already tells a chat
        entry from a completion one), so the caller that built the key sets it."""
        try:
            with self._lock:
                row = self._db.execute(
                    f"SELECT {_COLUMNS} FROM responses WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        if row is None:
            return None
        text, prompt_tokens, completion_tokens, latency_s, cost = row
        return Completion(text, prompt_tokens, completion_tokens, latency_s, cost, cached=True)

    def put(self, key: str, completion: Completion, request: Mapping[str, Any]) -> None:
        """Store a completion. The first writer of a key wins: a second run that made the same
        call at the same time got the same answer at temperature 0."""
        values = (
            key,
            canonical_json(request),
            completion.text,
            completion.prompt_tokens,
            completion.completion_tokens,
            completion.latency_s,
            completion.cost_usd,
            time.time(),
        )
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values
                )
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class CachedModel(ModelWrapper):
    """Any backend behind the response cache: a hit returns the stored completion and makes no
    call; a miss calls the backend and stores the answer.

    `complete` and `chat` are cached alike, a chat call keyed on its messages where a
    completion is keyed on its prompt, so the two never share an entry.

    `key_parts` names what, besides the call's own max_tokens, stop and prompt or messages,
    decides the answer: at least `backend` and `model`, plus whatever else does (endpoint, base URL,
    chat template). Only temperature-0 calls are cached, since only they repeat; a missing
    `temperature` means 0, the harness's setting, and is written into the key so the rule is
    visible in every stored request. At any other temperature every call goes to the backend.

    `hits` counts calls answered without the backend (from the file, or by waiting for an
    identical call already in flight), `misses` calls that went to the backend because of a
    miss, `bypassed` calls at a temperature that is not cached.
    """

    def __init__(self, inner: Model, cache: ResponseCache, key_parts: Mapping[str, Any]) -> None:
        missing = [k for k in ("backend", "model") if k not in key_parts]
        if missing:
            raise ValueError(f"key_parts must name the {missing[0]}")
        reserved = [k for k in RESERVED if k in key_parts]
        if reserved:
            raise ValueError(f"key_parts may not set {reserved[0]!r}; it comes from each call")
        parts = dict(key_parts)
        temperature = parts.get("temperature", 0)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise ValueError(f"temperature must be a number, got {temperature!r}")
        parts["temperature"] = float(temperature)  # 0 and 0.0 make one key
        try:
            canonical_json(parts)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"key_parts must be JSON values: {exc}") from None
        super().__init__(inner)
        self.cache = cache
        self.key_parts = parts
        self.enabled = parts["temperature"] == 0.0
        self.hits = 0
        self.misses = 0
        self.bypassed = 0
        self._in_flight: dict[str, asyncio.Future[None]] = {}

    def key(self, prompt: str, *, max_tokens: int, stop: tuple[str, ...]) -> str:
        return cache_key(self.key_parts, prompt, max_tokens=max_tokens, stop=tuple(stop))

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        stop = tuple(stop)
        return await self._answer(
            "completion",
            {"prompt": prompt},
            lambda: self.inner.complete(prompt, max_tokens=max_tokens, stop=stop),
            max_tokens,
            stop,
        )

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        # Checked before hashing, so the key holds role and content alone and the backend gets
        # exactly the conversation the key names.
        messages = check_messages(messages)
        stop = tuple(stop)
        return await self._answer(
            "chat",
            {"messages": messages},
            lambda: self.inner.chat(messages, max_tokens=max_tokens, stop=stop),
            max_tokens,
            stop,
        )

    async def _answer(
        self,
        form: PromptForm,
        asked: Mapping[str, Any],
        call: Callable[[], Awaitable[Completion]],
        max_tokens: int,
        stop: tuple[str, ...],
    ) -> Completion:
        """What `complete` and `chat` share: the stored answer, else the answer of an identical
        call in flight, else `call`'s."""
        if not self.enabled:
            self.bypassed += 1
            return await call()
        request = request_fields(self.key_parts, max_tokens, stop, form)
        key = request_key(request, asked)
        while (stored := self.cache.get(key)) is None:
            pending = self._in_flight.get(key)
            if pending is None:
                return await self._call(key, request, call)
            # Solvers asking the same question of the same span at once (two solvers on one
            # sample) wait for the first call rather than paying for the answer twice. If that
            # call fails, the loop finds no entry and this one makes its own attempt.
            await asyncio.shield(pending)
        self.hits += 1
        return replace(stored, form=form)

    async def _call(
        self, key: str, request: Mapping[str, Any], call: Callable[[], Awaitable[Completion]]
    ) -> Completion:
        done = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        self.misses += 1
        try:
            completion = await call()
            self.cache.put(key, completion, request)
        finally:
            del self._in_flight[key]
            done.set_result(None)
        return completion
