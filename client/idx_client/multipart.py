"""A streaming ``multipart/form-data`` body: the file is read in chunks as it is sent,
never held in memory, and the total length is known up front (no chunked encoding)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class MultipartBody:
    content_type: str
    length: int
    head: bytes
    path: Path
    tail: bytes

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
        yield self.tail


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "\\22").replace("\r", " ").replace("\n", " ")


def encode_multipart(
    fields: Sequence[tuple[str, str]], file_field: str, path: Path, filename: str | None = None
) -> MultipartBody:
    """The form ``fields`` followed by ``path`` as ``file_field`` (what twine sends)."""
    boundary = "idx-" + secrets.token_hex(16)
    head = bytearray()
    for name, value in fields:
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
        head += value.encode("utf-8") + b"\r\n"
    disposition = f'form-data; name="{_quote(file_field)}"; filename="{_quote(filename or path.name)}"'
    head += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
    head += b"Content-Type: application/octet-stream\r\n\r\n"
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    return MultipartBody(f"multipart/form-data; boundary={boundary}", length, bytes(head), path, tail)
