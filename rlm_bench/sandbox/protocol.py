"""How the harness and the worker talk: JSON messages, each framed by a 4-byte big-endian length,
over two pipes of their own. Never over the worker's stdout: model code owns that, and anything it
prints there must not be mistaken for a message.

Every message is a dict with an "op" naming its kind and the fields listed in `FIELDS`. `decode`
checks that they are there, so a garbled or forged frame becomes a `ProtocolError` at the point of
reading rather than a `KeyError` somewhere later.

A message can be megabytes (`llm_query_batched` over the chunks of a 1M-token context), so no
side holds more than two forms of one at a time: a frame is written as the length and then the
JSON in pieces of about `PIECE_CHARS` (the message and its bytes, never a whole JSON text too),
and a frame read is decoded to text from the buffer it arrived in, which is let go before the
JSON is parsed (bytes and text, then text and objects).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator

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

PIECE_CHARS = 1 << 16
"""JSON text is encoded to UTF-8 this much at a time (one long string is one piece)."""

_HEADER = struct.Struct(">I")
_ENCODER = json.JSONEncoder(ensure_ascii=False)

Frame = list[bytes]
"""One message as it goes on a pipe: the 4-byte length, then the UTF-8 JSON in pieces."""


class ProtocolError(ValueError):
    """A frame that is too large, not JSON, or not a message this protocol knows."""


def to_json_bytes(value: object) -> bytes:
    """JSON as UTF-8, letting lone surrogates through: a context cut in the middle of a surrogate
    pair is still a Python str, and it must arrive as the same str."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def from_json_bytes(data: bytes) -> object:
    return json.loads(data.decode("utf-8", "surrogatepass"))


def _json_pieces(value: object) -> Iterator[bytes]:
    """`to_json_bytes(value)` cut into pieces, never the whole text at once."""
    pending: list[str] = []
    size = 0
    for part in _ENCODER.iterencode(value):
        pending.append(part)
        size += len(part)
        if size >= PIECE_CHARS:
            yield "".join(pending).encode("utf-8", "surrogatepass")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8", "surrogatepass")


def encode(message: dict) -> Frame:
    """One frame. Raises TypeError for values JSON cannot hold and ProtocolError past the size
    limit, so the sender can answer with an error instead of a frame the reader would refuse."""
    pieces = list(_json_pieces(message))
    length = sum(len(piece) for piece in pieces)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(
            f"a message of {length:,} bytes is over the limit of {MAX_FRAME_BYTES:,} bytes"
        )
    return [_HEADER.pack(length), *pieces]


def _text(body: bytes | bytearray | memoryview) -> str:
    """A frame's body as text, decoded where it lies (any bytes-like object)."""
    try:
        return str(body, "utf-8", "surrogatepass")
    except ValueError as exc:
        raise ProtocolError(f"a frame that is not UTF-8: {exc}") from None


def decode(text: str) -> dict:
    """The message in a frame's text."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"a frame that is not JSON: {exc}") from None
    op = message.get("op") if isinstance(message, dict) else None
    if op not in FIELDS:
        raise ProtocolError(f"a frame that is not a known message: {text[:80]!r}")
    missing = [field for field in FIELDS[op] if field not in message]
    if missing:
        raise ProtocolError(f"a {op!r} message without {', '.join(missing)}")
    return message


class FrameReader:
    """Reads frames from a non-blocking pipe as bytes arrive (the harness side, which must keep
    its own deadline rather than block on a read). A body is read straight into one buffer of
    the size its header announces, so a frame of megabytes is neither grown nor copied as it
    arrives."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._body: bytearray | None = None
        self._got = 0

    def read_from(self, fd: int) -> int:
        """Reads what `fd` holds of the frame under way, never past its end: bytes read, 0 at
        the end of input. Raises BlockingIOError when there is nothing to read yet."""
        if self._body is None:
            chunk = os.read(fd, _HEADER.size - len(self._header))
            self._header += chunk
            return len(chunk)
        with memoryview(self._body) as view:
            read = os.readv(fd, [view[self._got :]])
        self._got += read
        return read

    def next(self) -> dict | None:
        """The next whole message, or None until more bytes arrive."""
        if self._body is None:
            if len(self._header) < _HEADER.size:
                return None
            (length,) = _HEADER.unpack(self._header)
            if length > MAX_FRAME_BYTES:
                raise ProtocolError(f"a frame announcing {length:,} bytes")
            self._body, self._got = bytearray(length), 0
        if self._got < len(self._body):
            return None
        text = _text(self._body)
        self._header, self._body = bytearray(), None
        return decode(text)


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
    text = _text(body)
    del body
    return decode(text)


def write_frame(fd: int, frame: Frame) -> None:
    """Writes all of a frame to a blocking pipe."""
    for piece in frame:
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytearray:
    """Up to `size` bytes, read into one buffer of that size: fewer only if the pipe closed
    first."""
    data = bytearray(size)
    got = 0
    with memoryview(data) as view:
        while got < size:
            read = os.readv(fd, [view[got:]])
            if not read:
                break
            got += read
    del data[got:]
    return data
