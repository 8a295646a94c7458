"""Files through waitress without copying them into fresh buffers.

waitress sends a ``wsgi.file_wrapper`` body by reading a chunk as large as the socket's
send buffer (4 MiB on Linux loopback), sending it and reading the next: every chunk is
a new ``bytes``, allocated, faulted in, filled from the page cache and freed, and then
copied again into the socket. A file of ``MAP_FROM`` bytes or more is sent from a
read-only memory map of it instead, a window of ``MAP_WINDOW`` at a time: the socket
copies straight from the page cache, once. On this 2-core VM a 100 MB file goes out at
3.0-3.9 GiB/s against 2.8-3.0 with a reused buffer, and 1 MB files at 16 connections at
2.25 against 1.8 (wrk, ``benchmarks/``). Below ``MAP_FROM`` mapping costs more than it saves
(a 62 KB file: 350 MiB/s mapped, 470 read). Blobs are written to a temporary file and
renamed into place, never changed in place, so a mapped file does not shrink under the
map. ``os.sendfile`` was slower still (2.3 GiB/s): the receiving client then copies
from page-cache pages its CPU has not touched.

A file streamed from upstream while it is cached (a body of chunks, not a file) would be
copied by waitress, chunk after chunk, into its output buffer and out of it again: 0.27
ms of CPU per 256 KiB chunk, a fifth of the server's CPU in a cold install. Each chunk
is handed over instead as a file-like buffer of its own, which waitress queues as it is
and sends from (``streamed_body``), while little of the body waits for the client.
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Iterable
from typing import IO, Any

from waitress.buffers import ReadOnlyFileBasedBuffer

#: Files at least this big are sent from a memory map.
MAP_FROM = 384 * 1024
#: How much of a file is mapped at a time: what a download adds to the server's RSS.
MAP_WINDOW = 8 * 1024 * 1024
#: How much of a streamed body may wait in memory for a slow client (waitress's own
#: buffer goes to disk past 1 MiB, its default ``outbuf_overflow``).
QUEUED_MAX = 1024 * 1024


class FileBody(ReadOnlyFileBasedBuffer):  # type: ignore[misc]  # (waitress has no types)
    """waitress's file wrapper (its channel sends it as a file), sending a big file from
    a memory map of it. A file that cannot be mapped (no descriptor, a filesystem
    without mmap) is read as waitress reads it."""

    def __init__(self, file: IO[bytes], block_size: int = 32768) -> None:
        super().__init__(file, block_size)
        self._window: memoryview | None = None
        self._window_start = 0

    def prepare(self, size: int | None = None) -> int:
        remain: int = super().prepare(size)
        if remain >= MAP_FROM:
            try:
                self._map(self.file.tell())
            except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
                self._window = None
        return remain

    def _map(self, position: int) -> memoryview:
        start = position - position % mmap.ALLOCATIONGRANULARITY
        size = min(MAP_WINDOW, position + self.remain - start)
        mapped = mmap.mmap(self.file.fileno(), size, offset=start, access=mmap.ACCESS_READ)
        # The previous window is unmapped once the channel drops its last chunk of it.
        self._window = memoryview(mapped)
        self._window_start = start
        return self._window

    def get(self, numbytes: int = -1, skip: bool = False) -> Any:
        window = self._window
        if window is None or skip:
            return super().get(numbytes, skip)
        if numbytes < 0 or numbytes > self.remain:
            numbytes = self.remain
        if numbytes == 0:
            return b""
        position = self.file.tell()  # waitress skips (seeks past) what the socket took
        offset = position - self._window_start
        if not 0 <= offset < len(window):
            window = self._map(position)
            offset = position - self._window_start
        return window[offset : offset + numbytes]

    def close(self) -> None:
        self._window = None
        super().close()


def file_body(environ: dict[str, Any], handle: IO[bytes], block_size: int) -> Any:
    """The response body for a stored file: this module's wrapper under waitress, the
    server's own ``wsgi.file_wrapper`` elsewhere, or None when there is none."""
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is ReadOnlyFileBasedBuffer:
        return FileBody(handle, block_size)
    return wrapper(handle, block_size) if wrapper is not None else None


class _Chunk(ReadOnlyFileBasedBuffer):  # type: ignore[misc]
    """One chunk of a streamed body. waitress's channel queues a file buffer as it is,
    sends from it and skips what the socket took; this one is the chunk's own bytes."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self.remain = len(data)

    def __len__(self) -> int:
        return self.remain

    def __bool__(self) -> bool:
        return self.remain > 0

    def __getitem__(self, part: slice) -> _Chunk:
        # waitress's task cuts a body at its Content-Length, as it would cut bytes
        start, stop, _ = part.indices(self.remain)
        if (start, stop) == (0, self.remain):
            return self
        return _Chunk(bytes(self._view[start:stop]))

    def get(self, numbytes: int = -1, skip: bool = False) -> memoryview:
        if numbytes < 0 or numbytes > self.remain:
            numbytes = self.remain
        part = self._view[:numbytes]
        if skip:
            self.skip(numbytes)
        return part

    def skip(self, numbytes: int, allow_prune: bool = False) -> None:
        self._view = self._view[numbytes:]
        self.remain = len(self._view)

    def close(self) -> None:
        # waitress closes what is queued when the client goes away, but the channel (and
        # with it this buffer) may stay referenced until its thread serves again.
        self._view = memoryview(b"")
        self.remain = 0


class _Chunks:
    """A streamed body whose chunks are :class:`_Chunk` while little of it waits to be
    sent; closing it closes the body.

    waitress copies bytes into a buffer that goes to a temp file past 1 MiB, but keeps a
    queued chunk in memory until it is sent. So once more than ``QUEUED_MAX`` of this
    body waits for a slow client, the next chunks are handed over as bytes (after the
    queued ones, in order) and wait on disk: memory per connection stays bounded.
    """

    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self._iterator = iter(body)
        self._queued: list[_Chunk] = []

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> Any:
        data = next(self._iterator)
        # Sent chunks drop out (waitress's main thread skips what the socket took).
        self._queued = [chunk for chunk in self._queued if chunk.remain]
        if sum(chunk.remain for chunk in self._queued) >= QUEUED_MAX:
            return data
        chunk = _Chunk(data)
        self._queued.append(chunk)
        return chunk

    def close(self) -> None:
        self._queued = []
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def streamed_body(environ: dict[str, Any], body: Iterable[bytes], size: int | None) -> Iterable[bytes]:
    """The response body for chunks streamed with a known size: each chunk handed to
    waitress uncopied; ``body`` itself under other servers, or without a Content-Length
    (waitress then frames each chunk itself, and needs bytes).

    Under waitress the items of the returned body are not all ``bytes`` (PEP 3333 wants
    bytes): it is for waitress alone, and a middleware must not read it.
    """
    if size is not None and environ.get("wsgi.file_wrapper") is ReadOnlyFileBasedBuffer:
        return _Chunks(body)
    return body
