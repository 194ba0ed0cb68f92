"""The sandbox's wire format: frames written in pieces and read in place must still be exactly
a 4-byte length and the message's UTF-8 JSON, and come back whole however the pipe cuts them."""

from __future__ import annotations

import json
import os
import struct
import threading

import pytest

from rlm_bench.sandbox import protocol

BIG = {
    "op": "call",
    "name": "llm_query_batched",
    "args": [["Text:\n" + 'naïve café 🦊 "quoted"\n' * 20_000 + "\ud800", "short", ""] * 3],
    "kwargs": {"n": 1.5, "none": None, "flag": True},
}


def test_a_frame_is_the_length_and_the_json_of_the_message_in_pieces():
    frame = protocol.encode(BIG)
    body = json.dumps(BIG, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert b"".join(frame) == struct.pack(">I", len(body)) + body
    assert len(frame) > 2, "a message of megabytes goes out in pieces, not one copy"


def test_values_json_cannot_hold_and_oversized_messages_fail_at_encode(monkeypatch):
    with pytest.raises(TypeError):
        protocol.encode({"op": "return", "value": {1, 2}})
    monkeypatch.setattr(protocol, "MAX_FRAME_BYTES", 1000)
    with pytest.raises(protocol.ProtocolError, match="over the limit"):
        protocol.encode(BIG)


def read_all(reader: protocol.FrameReader, fd: int) -> list[dict]:
    messages = []
    while True:
        while (message := reader.next()) is not None:
            messages.append(message)
        try:
            if not reader.read_from(fd):
                return messages
        except BlockingIOError:
            return messages


def test_the_harness_reader_reassembles_frames_cut_anywhere_and_stops_at_each_end():
    small = {"op": "done", "stdout": "x", "stderr": "", "error": None, "truncated": False}
    data = b"".join([*protocol.encode(small), *protocol.encode(BIG), *protocol.encode(small)])
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    reader = protocol.FrameReader()
    got = []
    try:
        # Cuts inside the first header, inside a body, and across frame boundaries.
        for start, end in [(0, 3), (3, 40), (40, 70_001), (70_001, len(data))]:
            piece = memoryview(data)[start:end]
            while piece:
                try:
                    piece = piece[os.write(write_fd, piece) :]
                except BlockingIOError:  # the pipe is full until the reader takes some
                    pass
                got += read_all(reader, read_fd)
        os.close(write_fd)
        got += read_all(reader, read_fd)
        assert reader.read_from(read_fd) == 0
    finally:
        os.close(read_fd)
    assert got == [small, BIG, small]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (struct.pack(">I", 5) + b"\xff\xfe{}x", "not UTF-8"),
        (struct.pack(">I", 3) + b"[1]", "not a known message"),
        (struct.pack(">I", 0), "not JSON"),
        (b"\xff" * 8, "announcing"),
    ],
    ids=["not utf-8", "not a message", "empty", "too long"],
)
def test_a_garbled_frame_is_a_protocol_error(raw, error):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, raw)
    os.close(write_fd)
    reader = protocol.FrameReader()
    try:
        with pytest.raises(protocol.ProtocolError, match=error):
            while reader.next() is None:
                assert reader.read_from(read_fd)
    finally:
        os.close(read_fd)


def test_the_worker_reads_a_blocking_pipe_frame_by_frame():
    read_fd, write_fd = os.pipe()

    def write() -> None:  # in a thread: a frame larger than the pipe's buffer has to drain
        for message in (BIG, {"op": "ready"}):
            protocol.write_frame(write_fd, protocol.encode(message))
        os.close(write_fd)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert protocol.read_frame(read_fd) == BIG
        assert protocol.read_frame(read_fd) == {"op": "ready"}
        assert protocol.read_frame(read_fd) is None
    finally:
        writer.join()
        os.close(read_fd)
