"""How the harness and the worker talk: JSON messages, each framed by a 4-byte big-endian length,
over two pipes of their own. Never over the worker's stdout: model code owns that, and anything it
prints there must not be mistaken for a message.

Every message is a dict with an "op" naming its kind and the fields listed in `FIELDS`. `decode`
checks that they are there, so a garbled or forged frame becomes a `ProtocolError` at the point of
reading rather than a `KeyError` somewhere later.
"""

from __future__ import annotations

import json
import os
import struct

MAX_FRAME_BYTES = 256 * 1024 * 1024
"""Checked before a frame's body is read, so garbage on a pipe cannot make a reader allocate
gigabytes. Outputs are cut far below this; only `get` of a huge variable can reach it."""

FIELDS: dict[str, tuple[str, ...]] = {
    # harness -> worker
    "run": ("code",),
    "get": ("name",),
    "return": ("value",),
    "raise": ("error",),
    # worker -> harness
    "ready": (),
    "call": ("name", "args", "kwargs"),
    "done": ("stdout", "stderr", "error", "truncated"),
    "value": ("found", "text", "error"),
}

_HEADER = struct.Struct(">I")


class ProtocolError(ValueError):
    """A frame that is too large, not JSON, or not a message this protocol knows."""


def to_json_bytes(value: object) -> bytes:
    """JSON as UTF-8, letting lone surrogates through: a context cut in the middle of a surrogate
    pair is still a Python str, and it must arrive as the same str."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def from_json_bytes(data: bytes) -> object:
    return json.loads(data.decode("utf-8", "surrogatepass"))


def encode(message: dict) -> bytes:
    """One frame. Raises TypeError for values JSON cannot hold and ProtocolError past the size
    limit, so the sender can answer with an error instead of a frame the reader would refuse."""
    body = to_json_bytes(message)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(
            f"a message of {len(body):,} bytes is over the limit of {MAX_FRAME_BYTES:,} bytes"
        )
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict:
    try:
        message = from_json_bytes(body)
    except ValueError as exc:
        raise ProtocolError(f"a frame that is not JSON: {exc}") from None
    op = message.get("op") if isinstance(message, dict) else None
    if op not in FIELDS:
        raise ProtocolError(f"a frame that is not a known message: {body[:80]!r}")
    missing = [field for field in FIELDS[op] if field not in message]
    if missing:
        raise ProtocolError(f"a {op!r} message without {', '.join(missing)}")
    return message


class FrameReader:
    """Reassembles frames from whatever chunks a non-blocking read returns (the harness side,
    which must keep its own deadline rather than block on a read)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> dict | None:
        """The next whole message, or None until more bytes arrive."""
        if len(self._buffer) < _HEADER.size:
            return None
        (length,) = _HEADER.unpack_from(self._buffer)
        if length > MAX_FRAME_BYTES:
            raise ProtocolError(f"a frame announcing {length:,} bytes")
        end = _HEADER.size + length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[_HEADER.size : end])
        del self._buffer[:end]
        return decode(body)


def read_frame(fd: int) -> dict | None:
    """The next message from a blocking pipe (the worker side), or None at a clean end of input."""
    header = _read_exactly(fd, _HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise ProtocolError("the pipe closed in the middle of a frame header")
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame announcing {length:,} bytes")
    body = _read_exactly(fd, length)
    if len(body) < length:
        raise ProtocolError("the pipe closed in the middle of a frame")
    return decode(body)


def write_frame(fd: int, frame: bytes) -> None:
    """Writes all of a frame to a blocking pipe."""
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    """Up to `size` bytes: fewer only if the pipe closed first."""
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            break
        data += chunk
    return bytes(data)
