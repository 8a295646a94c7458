"""FileBody: waitress's file wrapper with one reused buffer for big files. Driven here as
waitress's channel drives it: get a chunk, send part of it, skip what was sent."""

from __future__ import annotations

import io
import os
import random

import pytest
from idx_server.filebody import REUSE_FROM, FileBody, file_body
from waitress.buffers import ReadOnlyFileBasedBuffer


def drain(body: FileBody, chunk: int, rng: random.Random) -> bytes:
    out = bytearray()
    while len(body) > 0:
        data = body.get(chunk)
        sent = rng.randint(1, len(data))  # a socket takes what it takes
        out += bytes(data[:sent])
        body.skip(sent, True)
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1000, REUSE_FROM - 1, REUSE_FROM, REUSE_FROM + 12345])
def test_every_byte_once_in_order(tmp_path, size):
    content = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(content)
    with path.open("rb") as handle:
        body = FileBody(handle, 32768)
        assert body.prepare() == size
        assert drain(body, 4 * 1024 * 1024, random.Random(size)) == content
        assert (body._buffer is not None) == (size >= REUSE_FROM)


def test_a_content_length_shorter_than_the_file_is_respected(tmp_path):
    content = os.urandom(REUSE_FROM + 100)
    path = tmp_path / "blob"
    path.write_bytes(content)
    with path.open("rb") as handle:
        body = FileBody(handle)
        assert body.prepare(REUSE_FROM + 10) == REUSE_FROM + 10
        assert drain(body, 1 << 20, random.Random(1)) == content[: REUSE_FROM + 10]


def test_waitress_gets_this_wrapper_and_other_servers_their_own():
    handle = io.BytesIO(b"abc")
    assert isinstance(file_body({"wsgi.file_wrapper": ReadOnlyFileBasedBuffer}, handle, 8), FileBody)

    class Other:
        def __init__(self, file: object, block_size: int) -> None:
            self.file = file

    assert isinstance(file_body({"wsgi.file_wrapper": Other}, handle, 8), Other)
    assert file_body({}, handle, 8) is None
