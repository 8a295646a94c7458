"""Finding the file behind a ``+f/`` URL and getting its bytes (from disk or upstream)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import IdxError, NotFound
from idx_server.model.indexes import Index
from idx_server.services.indexes import IndexService
from idx_server.storage import BlobStore, MetaStore

log = logging.getLogger("idx.files")

#: Access times of cached mirror files (for LRU eviction) are written in batches.
ACCESS_FLUSH_SECONDS = 60.0
ACCESS_FLUSH_COUNT = 500
#: Files found by ``+f/`` URL are remembered while the store is unchanged (up to this
#: many): a download of a cached file then costs no query.
LOCATED_MAX = 4096


@dataclass(frozen=True)
class FileLocation:
    file: DistFile
    origin: Index


class FileStream(Protocol):
    """A file arriving from upstream while it is cached (see ``idx_server.mirror``)."""

    size: int | None
    content_type: str

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class MirrorFiles(Protocol):
    def stream_file(self, index: Index, file: DistFile) -> FileStream:
        """Bytes of an uncached mirror file, fetched (once, however many ask) and cached
        when complete and verified."""

    def core_metadata(self, index: Index, file: DistFile) -> str | None:
        """sha256 of the file's PEP 658 metadata, fetching or extracting it as needed
        (a stored blob, or bytes held by ``pending_metadata``); None if there is none."""

    def pending_metadata(self, sha256: str) -> bytes | None:
        """The bytes of fetched metadata whose blob is not stored yet, else None."""

    def settle_download(self, index: Index, file: DistFile) -> bool:
        """Store the file's download now if it arrived whole and waits for its store;
        True if it was stored (or failed to be) here."""


class FileService:
    def __init__(
        self, store: MetaStore, blobs: BlobStore, indexes: IndexService, mirror: MirrorFiles
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.indexes = indexes
        self.mirror = mirror
        self._accessed: dict[int, float] = {}
        self._access_lock = threading.Lock()
        self._last_flush = time.monotonic()
        #: (store stamp, its table), swapped as one reference.
        self._located: tuple[object, dict[tuple[int, str, str], FileLocation]] = (None, {})

    def locate(self, index: Index, key_prefix: str, filename: str) -> FileLocation:
        """The file under ``+f/{key_prefix}/{filename}`` of ``index`` or its bases."""
        # Every change to the store (a file cached, removed, an index's bases) moves the
        # stamp, and with it goes the whole table. A lookup that races a change stores
        # its answer in the table of the stamp it read first, which is then already
        # replaced: an answer is never served for a state newer than its query.
        stamp = self.store.change_stamp()
        located_stamp, located = self._located
        if located_stamp != stamp:
            located = {}
            self._located = (stamp, located)
        key = (index.id, key_prefix, filename)
        location = located.get(key)
        if location is None:
            order = self.indexes.resolution_order(index)
            found = self.store.find_file([ix.id for ix in order], key_prefix, filename)
            if found is None:
                raise NotFound(f"file {filename} is not on index {index.full_name} or its bases")
            origin = next(ix for ix in order if ix.id == found.index_id)
            location = FileLocation(found, origin)
            if len(located) < LOCATED_MAX:
                located[key] = location
        if (
            not location.file.cached
            and location.origin.is_mirror
            and self.mirror.settle_download(location.origin, location.file)
        ):
            # Downloaded, and waiting to be stored: stored now, so it is served cached.
            return self.locate(index, key_prefix, filename)
        return location

    def open_blob(self, sha256: str) -> IO[bytes]:
        return self.blobs.open(sha256)

    def blob_size(self, sha256: str) -> int:
        return self.blobs.size(sha256)

    def blob_exists(self, sha256: str) -> bool:
        return self.blobs.exists(sha256)

    def stream_from_upstream(self, location: FileLocation) -> FileStream:
        return self.mirror.stream_file(location.origin, location.file)

    def pending_metadata(self, sha256: str) -> bytes | None:
        """Metadata just fetched from upstream and not on disk yet (see ``core_metadata_sha256``)."""
        return self.mirror.pending_metadata(sha256)

    def core_metadata_sha256(self, location: FileLocation) -> str:
        """sha256 of the file's PEP 658 metadata: a blob, or (just fetched from a mirror's
        upstream) bytes still being stored, which ``pending_metadata`` has."""
        file = location.file
        if file.core_metadata_sha256 and self.blobs.exists(file.core_metadata_sha256):
            return file.core_metadata_sha256
        if location.origin.is_mirror:
            sha = self.mirror.core_metadata(location.origin, file)
            if sha:
                return sha
        raise NotFound(f"no core metadata is served for {file.filename}")

    def record_access(self, file: DistFile) -> None:
        """Remember that a cached mirror file was served (for LRU eviction)."""
        if not file.url:
            return
        now = time.time()
        with self._access_lock:
            self._accessed[file.id] = now
            due = (
                len(self._accessed) >= ACCESS_FLUSH_COUNT
                or time.monotonic() - self._last_flush > ACCESS_FLUSH_SECONDS
            )
            if not due:
                return
            batch, self._accessed = self._accessed, {}
            self._last_flush = time.monotonic()
        self.flush_access(batch)

    def flush_access(self, batch: dict[int, float] | None = None) -> None:
        if batch is None:
            with self._access_lock:
                batch, self._accessed = self._accessed, {}
        if batch:
            try:
                with self.store.write(durable=False):
                    self.store.touch_files(batch)
            except IdxError as exc:
                # Access times only order evictions: never fail a download over them.
                log.warning("file access times not recorded: %s", exc.message)
