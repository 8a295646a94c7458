"""Receiving a legacy upload form (``multipart/form-data``) as it streams in.

The ``content`` part goes straight into a blob writer (hashed on the way); the
other fields are kept as text. Nothing is held whole in memory, and the size limit
is enforced while reading, not after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from multipart import (
    MultipartError,
    MultipartSegment,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)

from idx_server.model.errors import InvalidUpload, PayloadTooLarge
from idx_server.storage import BlobWriter

CHUNK_SIZE = 256 * 1024
#: Total size of all non-file fields (long descriptions, attestations).
MAX_FIELDS_SIZE = 32 * 1024 * 1024
MAX_PARTS = 1000


@dataclass
class ReceivedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    filename: str | None = None
    content_type: str = ""
    blob: BlobWriter | None = None

    def first(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def discard(self) -> None:
        if self.blob is not None:
            self.blob.discard()
            self.blob = None


def receive_form(
    stream: IO[bytes],
    content_type: str,
    content_length: int | None,
    new_blob: Callable[[dict[str, list[str]]], BlobWriter],
    max_file_size: int,
) -> ReceivedForm:
    """Parse the form from ``stream``; on any error nothing stays behind."""
    mime, options = parse_options_header(content_type or "")
    boundary = options.get("boundary")
    if mime != "multipart/form-data" or not boundary:
        raise InvalidUpload(
            "an upload must be a multipart/form-data POST (as twine, uv publish and poetry send)"
        )
    limit = max_file_size + MAX_FIELDS_SIZE
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(
            f"File too large: the upload is {content_length} bytes, the limit is {max_file_size} bytes"
        )
    form = ReceivedForm()
    try:
        _parse(stream, boundary, content_length, form, new_blob, max_file_size)
    except BaseException:
        form.discard()
        raise
    return form


def _parse(
    stream: IO[bytes],
    boundary: str,
    content_length: int | None,
    form: ReceivedForm,
    new_blob: Callable[[dict[str, list[str]]], BlobWriter],
    max_file_size: int,
) -> None:
    remaining = content_length if content_length is not None else -1
    receiver = _PartReceiver(form, new_blob, max_file_size)
    parser = PushMultipartParser(
        boundary,
        content_length=content_length if content_length is not None else -1,
        max_header_count=16,
        max_segment_count=MAX_PARTS,
    )
    try:
        with parser:
            while not parser.closed:
                size = CHUNK_SIZE if remaining < 0 else min(CHUNK_SIZE, remaining)
                chunk = stream.read(size) if size else b""
                if remaining > 0:
                    remaining -= len(chunk)
                for event in parser.parse(chunk):
                    receiver.handle(event)
                if not chunk and not parser.closed:
                    raise InvalidUpload("the upload ended early: the form data is incomplete")
    except ParserLimitReached as exc:
        raise PayloadTooLarge(f"the upload form is too large or has too many parts: {exc}") from None
    except MultipartError as exc:
        raise InvalidUpload(f"the upload is not valid multipart/form-data: {exc}") from None


class _PartReceiver:
    """Sends each part of the form where it belongs as the parser reports it."""

    def __init__(
        self, form: ReceivedForm, new_blob: Callable[[dict[str, list[str]]], BlobWriter], max_file_size: int
    ) -> None:
        self.form = form
        self.new_blob = new_blob
        self.max_file_size = max_file_size
        self.fields_size = 0
        self.segment: MultipartSegment | None = None
        self.text: list[bytes] = []
        self.sink = "skip"  # "text", "content" or "skip"

    def handle(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self.start(event)
        elif event:
            self.data(event)
        elif self.segment is not None:
            self.end(self.segment)

    def start(self, segment: MultipartSegment) -> None:
        self.segment = segment
        self.text = []
        if segment.filename is not None and segment.name == "content":
            if self.form.blob is not None:
                raise InvalidUpload("the upload has more than one 'content' file")
            self.form.filename = segment.filename
            self.form.content_type = segment.content_type or ""
            self.form.blob = self.new_blob(self.form.fields)
            self.sink = "content"
        elif segment.filename is not None:
            self.sink = "skip"  # e.g. gpg_signature: accepted and ignored, as PyPI does
        else:
            self.sink = "text"

    def data(self, chunk: bytes) -> None:
        if self.sink == "content":
            assert self.form.blob is not None
            self.form.blob.write(chunk)
            if self.form.blob.size > self.max_file_size:
                raise PayloadTooLarge(f"File too large: the limit is {self.max_file_size} bytes")
        elif self.sink == "text":
            self.fields_size += len(chunk)
            if self.fields_size > MAX_FIELDS_SIZE:
                raise PayloadTooLarge("the upload's form fields are larger than 32 MiB")
            self.text.append(chunk)

    def end(self, segment: MultipartSegment) -> None:
        if self.sink == "text":
            value = b"".join(self.text).decode("utf-8", errors="replace")
            self.form.fields.setdefault(segment.name, []).append(value)
        self.segment = None
