"""FileBody, waitress's file wrapper sending big files from a memory map, and the
uncopied chunks of a streamed body. Driven here as waitress's channel drives them: get
a chunk, send part of it, skip what was sent."""

from __future__ import annotations

import io
import os
import random
from typing import Any

import pytest
from idx_server.filebody import MAP_FROM, MAP_WINDOW, QUEUED_MAX, FileBody, file_body, streamed_body
from waitress.buffers import ReadOnlyFileBasedBuffer


def drain(body: Any, chunk: int, rng: random.Random) -> bytes:
    out = bytearray()
    while len(body) > 0:
        data = body.get(chunk)
        sent = rng.randint(1, len(data))  # a socket takes what it takes
        out += bytes(data[:sent])
        body.skip(sent, True)
    return bytes(out)


SIZES = [0, 1000, MAP_FROM - 1, MAP_FROM, MAP_WINDOW, 2 * MAP_WINDOW + 12345]


@pytest.mark.parametrize("size", SIZES)
def test_every_byte_once_in_order(tmp_path, size):
    content = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(content)
    with path.open("rb") as handle:
        body = FileBody(handle, 32768)
        assert body.prepare() == size
        assert (body._window is not None) == (size >= MAP_FROM)
        assert drain(body, 4 * 1024 * 1024, random.Random(size)) == content


def test_no_more_than_one_window_is_mapped_at_a_time(tmp_path, monkeypatch):
    content = os.urandom(3 * MAP_WINDOW + 5)
    path = tmp_path / "blob"
    path.write_bytes(content)
    windows = []
    with path.open("rb") as handle:
        body = FileBody(handle)
        real_map = body._map

        def map_and_note(position: int) -> memoryview:
            window = real_map(position)
            windows.append((body._window_start, len(window)))
            return window

        monkeypatch.setattr(body, "_map", map_and_note)
        body.prepare()
        assert drain(body, 4 * 1024 * 1024, random.Random(3)) == content
    assert len(windows) == 4
    assert all(size <= MAP_WINDOW for _, size in windows)
    assert windows[0][0] == 0
    assert windows[-1][0] + windows[-1][1] == len(content)


def test_a_content_length_shorter_than_the_file_is_respected(tmp_path):
    content = os.urandom(MAP_WINDOW + 100)
    path = tmp_path / "blob"
    path.write_bytes(content)
    with path.open("rb") as handle:
        body = FileBody(handle)
        assert body.prepare(MAP_WINDOW + 10) == MAP_WINDOW + 10
        assert drain(body, 1 << 20, random.Random(1)) == content[: MAP_WINDOW + 10]


def test_a_file_that_cannot_be_mapped_is_read(tmp_path):
    content = os.urandom(MAP_FROM + 100)
    body = FileBody(io.BytesIO(content))  # no file descriptor
    assert body.prepare() == len(content)
    assert body._window is None
    assert drain(body, 1 << 20, random.Random(2)) == content


def test_closing_drops_the_map_and_closes_the_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(MAP_FROM))
    handle = path.open("rb")
    body = FileBody(handle)
    body.prepare()
    chunk = body.get(1000)
    body.close()
    assert body._window is None
    assert handle.closed
    assert len(chunk) == 1000  # a chunk still held by the channel stays readable


def test_waitress_gets_this_wrapper_and_other_servers_their_own():
    handle = io.BytesIO(b"abc")
    assert isinstance(file_body({"wsgi.file_wrapper": ReadOnlyFileBasedBuffer}, handle, 8), FileBody)

    class Other:
        def __init__(self, file: object, block_size: int) -> None:
            self.file = file

    assert isinstance(file_body({"wsgi.file_wrapper": Other}, handle, 8), Other)
    assert file_body({}, handle, 8) is None


class Closable:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


WAITRESS = {"wsgi.file_wrapper": ReadOnlyFileBasedBuffer}


def test_streamed_chunks_are_sent_whole_and_in_order_however_the_socket_takes_them():
    chunks = [os.urandom(n) for n in (1, 256 * 1024, 0, 77_777)]
    body = streamed_body(WAITRESS, Closable(chunks), sum(map(len, chunks)))
    rng = random.Random(7)
    sent = b""
    for chunk in body:
        assert isinstance(chunk, ReadOnlyFileBasedBuffer)  # waitress queues it uncopied
        assert len(chunk) == len(chunk.get())
        assert bool(chunk) == (len(chunk) > 0)
        sent += drain(chunk, 65536, rng) if chunk else b""
        assert len(chunk) == 0
        assert not chunk
    assert sent == b"".join(chunks)


def test_a_streamed_chunk_is_cut_at_the_content_length_as_bytes_would_be():
    data = os.urandom(1000)
    body = streamed_body(WAITRESS, [data], 1000)
    chunk = next(iter(body))
    assert chunk[:1000] is chunk
    assert chunk[:5000] is chunk
    for part in (slice(None, 10), slice(None, 0), slice(None, -5)):
        cut = chunk[part]
        assert cut.get() == data[part]
        assert len(cut) == len(data[part])
    assert chunk.get(10, skip=True) == data[:10]
    assert chunk.get() == data[10:]


def test_streamed_bodies_are_closed_and_left_alone_where_waitress_cannot_take_them():
    inner = Closable([b"abc"])
    body = streamed_body(WAITRESS, inner, 3)
    assert body is not inner
    body.close()  # the client went away: the download must learn of it
    assert inner.closed
    assert streamed_body(WAITRESS, inner, None) is inner  # no length: waitress frames bytes
    assert streamed_body({"wsgi.file_wrapper": object}, inner, 3) is inner
    assert streamed_body({}, inner, 3) is inner


def test_a_closed_chunk_lets_go_of_its_bytes():
    """waitress closes what is queued when the client goes away, and may keep the
    channel (and the queue) until its thread serves again: the bytes must not stay."""
    chunk = next(iter(streamed_body(WAITRESS, [os.urandom(1000)], 1000)))
    chunk.close()
    assert len(chunk) == 0
    assert bytes(chunk.get()) == b""


def test_past_a_megabyte_waiting_for_the_client_chunks_go_as_bytes():
    """Bytes go to waitress's own buffer, which waits on disk; queued chunks wait in
    memory. Once the client catches up, chunks are queued again."""
    size = 256 * 1024
    body = iter(streamed_body(WAITRESS, [os.urandom(size) for _ in range(12)], 12 * size))
    queued = [next(body) for _ in range(QUEUED_MAX // size)]  # nothing sent yet
    assert all(isinstance(item, ReadOnlyFileBasedBuffer) for item in queued)
    assert isinstance(next(body), bytes)  # the client is behind: on to waitress's buffer
    queued[0].skip(size)  # the socket took one chunk
    assert isinstance(next(body), ReadOnlyFileBasedBuffer)
    for item in queued:
        item.skip(len(item))
    assert all(isinstance(next(body), ReadOnlyFileBasedBuffer) for _ in range(3))
