"""Storage seams: where metadata (:class:`MetaStore`) and file bytes (:class:`BlobStore`) live.

Services depend only on these protocols. The default backend is SQLite (through
sqlite-utils) plus content-addressed files on disk; another backend (PostgreSQL,
object storage) is a new class offered by a plugin through ``idx_storage_backends``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import Index, IndexConfig
from idx_server.model.users import Release, User


class Transaction(Protocol):
    """An open write transaction."""

    #: The serial this transaction will commit as.
    serial: int

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never on rollback)."""

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` if the transaction rolls back."""


@dataclass(frozen=True)
class MirrorPage:
    """What is known about one project page of a mirror's upstream."""

    index_id: int
    project: str
    #: 200 (links known) or 404 (upstream said no such project).
    status: int
    etag: str = ""
    last_modified: str = ""
    #: When upstream last answered (fresh data or 304), seconds since the epoch.
    checked_at: float = 0.0
    display_name: str = ""
    versions: tuple[str, ...] = ()
    project_status: dict[str, str] | None = None
    upstream_serial: int = 0


@dataclass(frozen=True)
class MirrorNames:
    """The upstream project list of a mirror, kept compressed (PyPI lists ~700,000 names):
    lines of ``normalized<TAB>display``, sorted by normalized name."""

    index_id: int
    blob: bytes
    count: int
    etag: str = ""
    checked_at: float = 0.0

    @classmethod
    def build(cls, index_id: int, names: list[tuple[str, str]], etag: str, checked_at: float) -> MirrorNames:
        text = "\n".join(f"{n}\t{d}" if d != n else n for n, d in sorted(names))
        return cls(index_id, zlib.compress(text.encode("utf-8"), 6), len(names), etag, checked_at)

    def lines(self) -> Iterator[str]:
        """The lines, decompressed as they are read."""
        decompressor = zlib.decompressobj()
        rest = ""
        for start in range(0, len(self.blob), 256 * 1024):
            chunk = decompressor.decompress(self.blob[start : start + 256 * 1024])
            text = rest + chunk.decode("utf-8")
            parts = text.split("\n")
            rest = parts.pop()
            yield from parts
        text = rest + decompressor.flush().decode("utf-8")
        yield from (line for line in text.split("\n") if line)


@dataclass(frozen=True)
class Token:
    id: int
    user: str
    kind: str
    created: str
    expires: float
    scope: str = ""
    index: str = ""
    description: str = ""
    last_used: float = 0.0


@dataclass(frozen=True)
class ToxResult:
    id: int
    index_id: int
    file_id: int
    filename: str
    sha256: str
    created: str
    uploader: str = ""


class MetaStore(Protocol):
    """Users, indexes, releases, files, mirror state, tokens. One implementation per backend."""

    # -- transactions -------------------------------------------------------------------
    def write(self, durable: bool = True) -> AbstractContextManager[Transaction]:
        """A write transaction: all changes commit together, with a new serial, or none.

        ``durable=False`` is for what can be fetched or computed again (mirror caches,
        access times): its commit need not survive a power cut (it survives a crash)."""

    def read(self) -> AbstractContextManager[None]:
        """A read snapshot, for several reads that must agree."""

    def serial(self) -> int:
        """The serial of the last committed write."""

    def change_stamp(self) -> object:
        """A cheap value that changes whenever committed data may have changed, by this
        process or another (for caches of query results)."""

    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...

    def open_connections(self, count: int) -> None:
        """Open up to ``count`` connections now, for the request threads to take on their
        first query (the daemon calls this at start, with its thread count)."""

    # -- users ----------------------------------------------------------------------------
    def get_user(self, name: str) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def add_user(self, user: User) -> None: ...
    def update_user(self, user: User) -> None: ...
    def delete_user(self, name: str) -> None: ...

    # -- indexes --------------------------------------------------------------------------
    def get_index(self, user: str, name: str) -> Index | None: ...
    def list_indexes(self, user: str | None = None) -> list[Index]: ...
    def add_index(self, user: str, name: str, config: IndexConfig, created: str) -> Index: ...
    def update_index(self, index_id: int, config: IndexConfig) -> None: ...
    def delete_index(self, index_id: int) -> list[str]:
        """Delete an index with everything in it; return the sha256 of blobs it referenced."""

    # -- projects and releases -----------------------------------------------------------
    def project_names(self, index_id: int) -> list[tuple[str, str]]:
        """(normalized, display) names of the projects of an index."""

    def indexes_with_project(self, index_ids: Iterable[int], project: str) -> set[int]: ...
    def project_serials(self, index_ids: Iterable[int], project: str) -> dict[int, int]:
        """The serial of the last change of ``project`` on each of ``index_ids`` that has it."""

    def projects_stamp(self, index_ids: Iterable[int]) -> tuple[int, int]:
        """(last change serial, count) of the projects on ``index_ids``: any creation,
        change or deletion changes it."""

    def touch_project(self, index_id: int, project: str, display_name: str, serial: int) -> None:
        """Create the project row if needed and record ``serial`` as its last change."""

    def delete_project(self, index_id: int, project: str) -> list[str]: ...
    def get_release(self, index_id: int, project: str, version: str) -> Release | None: ...
    def list_releases(self, index_id: int, project: str) -> list[Release]: ...
    def put_release(self, release: Release) -> None: ...
    def delete_release(self, index_id: int, project: str, version: str) -> list[str]: ...

    # -- files ----------------------------------------------------------------------------
    def project_files(self, index_ids: Iterable[int], project: str) -> list[DistFile]: ...
    def release_files(self, index_id: int, project: str, version: str) -> list[DistFile]: ...
    def get_file(self, index_id: int, filename: str) -> DistFile | None: ...
    def find_file(self, index_ids: Iterable[int], path_key_prefix: str, filename: str) -> DistFile | None:
        """The first of ``index_ids`` (in order) holding ``filename`` under that path."""

    def put_file(self, file: DistFile) -> DistFile:
        """Insert or replace (by index and filename) a file row; returns it with its id."""

    def delete_file(self, file_id: int) -> list[str]: ...
    def set_yanked(self, index_id: int, project: str, version: str, yanked: bool, reason: str) -> int: ...
    def blob_in_use(self, sha256: str) -> bool: ...
    def all_blob_refs(self) -> set[str]: ...

    # -- mirrors --------------------------------------------------------------------------
    def get_mirror_page(self, index_id: int, project: str) -> MirrorPage | None: ...
    def put_mirror_page(self, page: MirrorPage, files: list[DistFile] | None) -> bool:
        """Store a page; with ``files``, make them the project's links (keeping cache state).
        Returns whether the links changed."""

    def mark_cached(self, file_id: int, sha256: str, size: int, core_metadata_sha256: str = "") -> None: ...
    def touch_files(self, accessed: dict[int, float]) -> None: ...
    def cached_files_lru(self, index_id: int) -> Iterator[DistFile]: ...
    def uncache_file(self, file_id: int) -> None: ...
    def mirror_cache_size(self, index_id: int | None = None) -> int: ...
    def get_mirror_names(self, index_id: int, with_names: bool = True) -> MirrorNames | None:
        """The stored upstream list; with ``with_names=False`` only its count, etag and
        check time (``blob`` empty): the list is megabytes, its stamp is asked for on
        every listing request."""

    def put_mirror_names(self, names: MirrorNames) -> None: ...
    def touch_mirror_names(self, index_id: int, checked_at: float) -> None: ...
    def set_core_metadata(self, file_id: int, core_metadata_sha256: str) -> None: ...

    # -- tokens ---------------------------------------------------------------------------
    def add_token(self, token: Token, secret_hash: str) -> Token: ...
    def find_token(self, secret_hash: str) -> Token | None: ...
    def list_tokens(self, user: str) -> list[Token]: ...
    def delete_token(self, token_id: int) -> None: ...
    def delete_expired_tokens(self, now: float) -> None: ...

    # -- test results ---------------------------------------------------------------------
    def add_toxresult(self, result: ToxResult) -> ToxResult: ...
    def toxresults_for(self, file_ids: Iterable[int]) -> list[ToxResult]: ...

    # -- counts ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]: ...

    # -- the whole store (idx-server check, export) --------------------------------------
    def iter_files(self, index_id: int | None = None) -> Iterator[DistFile]:
        """Every file row (of one index, or of all indexes), in id order."""

    def iter_releases(self, index_id: int) -> Iterator[Release]:
        """Every release row of an index, by project and version."""

    def iter_toxresults(self) -> Iterator[ToxResult]:
        """Every test result row, in id order."""

    def delete_toxresult(self, result_id: int) -> None: ...
    def iter_tokens(self) -> Iterator[tuple[Token, str]]:
        """Every token with the hash of its secret (the secret itself is never stored)."""

    def mirror_page_projects(self, index_id: int) -> list[str]:
        """The projects of a mirror whose upstream page is stored."""

    def index_ids_in_use(self) -> set[int]:
        """The index ids that project, release, file, test result or mirror rows refer to
        (an id without an index row means rows left behind)."""


@dataclass(frozen=True)
class TempFile:
    """A file in the blob store's temporary area."""

    name: str
    size: int
    modified: float


class BlobWriter(Protocol):
    """A file being written into the blob store; hashes as it goes."""

    size: int

    def write(self, data: bytes) -> None: ...

    def hexdigests(self) -> dict[str, str]:
        """sha256 and the other digests asked for, of what was written so far."""

    def commit(self) -> str:
        """Make the blob durable under its sha256 (fsync + rename); returns the sha256."""

    def discard(self) -> None: ...

    @property
    def temp_path(self) -> Path | None:
        """Where the bytes are while being written, for inspection before commit."""


class BlobStore(Protocol):
    """Content-addressed file bytes."""

    def writer(self, algorithms: Iterable[str] = ("sha256", "md5", "blake2_256")) -> BlobWriter:
        """A new blob being written; it hashes with sha256 and the other ``algorithms``."""

    def put_bytes(self, data: bytes) -> str: ...
    def open(self, sha256: str) -> IO[bytes]: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def delete(self, sha256: str) -> None: ...
    def local_path(self, sha256: str) -> Path | None:
        """A filesystem path to the bytes, when the backend has one (for sendfile / X-Accel)."""

    def iter_all(self) -> Iterator[str]: ...
    def total_size(self) -> int: ...
    def free_space(self) -> int | None:
        """Bytes free where new blobs go, or None if unknown."""

    def modified(self, sha256: str) -> float:
        """When the blob was written, in seconds since the epoch."""

    def temp_files(self) -> list[TempFile]:
        """Files being written, or left behind by a crash while being written."""

    def remove_temp(self, name: str) -> None: ...


@dataclass(frozen=True)
class StorageBackend:
    """A storage backend a plugin offers (``idx_storage_backends``)."""

    name: str
    description: str
    #: Builds (MetaStore, BlobStore) from the settings.
    open: Callable[[Any], tuple[MetaStore, BlobStore]]
