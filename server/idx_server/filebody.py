"""Big stored files through waitress without a fresh buffer per chunk.

waitress sends a ``wsgi.file_wrapper`` body by reading a chunk as large as the socket's
send buffer (4 MiB on Linux loopback), sending it and reading the next: every chunk is
a new 4 MiB ``bytes``, allocated, faulted in and freed. For a big file this wrapper
reads into one buffer of its own, reused for every chunk (the chunk is copied into the
socket before the next read). Small files keep waitress's reads: a buffer of their
size would cost more than it saves.
"""

from __future__ import annotations

from typing import IO, Any

from waitress.buffers import ReadOnlyFileBasedBuffer

#: Files at least this big get their own reused buffer.
REUSE_FROM = 8 * 1024 * 1024


class FileBody(ReadOnlyFileBasedBuffer):  # type: ignore[misc]  # (waitress has no types)
    """waitress's file wrapper (its channel sends it as a file) with a reused buffer."""

    def __init__(self, file: IO[bytes], block_size: int = 32768) -> None:
        super().__init__(file, block_size)
        self._buffer: bytearray | None = None

    def prepare(self, size: int | None = None) -> int:
        remain: int = super().prepare(size)
        if remain >= REUSE_FROM and hasattr(self.file, "readinto"):
            self._buffer = bytearray()
        return remain

    def get(self, numbytes: int = -1, skip: bool = False) -> Any:
        if self._buffer is None or skip:
            return super().get(numbytes, skip)
        if numbytes < 0 or numbytes > self.remain:
            numbytes = self.remain
        if len(self._buffer) < numbytes:
            self._buffer = bytearray(numbytes)
        position = self.file.tell()
        view = memoryview(self._buffer)[:numbytes]
        read = self.file.readinto(view)
        self.file.seek(position)  # waitress skips what the socket took
        return view[:read]


def file_body(environ: dict[str, Any], handle: IO[bytes], block_size: int) -> Any:
    """The response body for a stored file: this module's wrapper under waitress, the
    server's own ``wsgi.file_wrapper`` elsewhere, or None when there is none."""
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is ReadOnlyFileBasedBuffer:
        return FileBody(handle, block_size)
    return wrapper(handle, block_size) if wrapper is not None else None
