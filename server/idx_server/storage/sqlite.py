"""The default metadata store: SQLite in WAL mode, through sqlite-utils.

One connection per thread. Writes are serialised by a process-wide lock and
``BEGIN IMMEDIATE`` (with a busy timeout for other processes), so concurrent
requests queue for the writer instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import StorageUnavailable
from idx_server.model.indexes import Index, IndexConfig
from idx_server.model.users import Release, User
from idx_server.storage import MirrorNames, MirrorPage, Token, ToxResult
from idx_server.storage.blobs import storage_error
from idx_server.storage.migrations import migrations

BUSY_TIMEOUT_SECONDS = 60.0
#: How long closing the store waits for a write still running on another thread.
CLOSE_WAIT_SECONDS = 10.0
STOPPING = "the server is stopping; nothing was written"


@functools.cache
def _sqlite_memory_used() -> Callable[[], int] | None:
    """``sqlite3_memory_used()`` of the SQLite library the ``sqlite3`` module runs on (all
    connections' page caches and statements): the ``idx_sqlite_memory_bytes`` metric.
    None when that library cannot be reached from here (a statically linked build).
    Looked up once, at the first metrics request."""
    name = ctypes.util.find_library("sqlite3")
    try:
        function = ctypes.CDLL(name).sqlite3_memory_used if name else None
    except (OSError, AttributeError):
        return None
    if function is None:
        return None
    function.restype = ctypes.c_int64
    function.argtypes = []
    return lambda: int(function())


class _Transaction:
    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.commit_callbacks: list[Callable[[], None]] = []
        self.rollback_callbacks: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.commit_callbacks.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        self.rollback_callbacks.append(callback)


_FILE_COLUMNS = (
    "id, index_id, project, version, filename, path_key, sha256, hashes, size, upload_time, "
    "uploader, yanked, yanked_reason, requires_python, core_metadata_sha256, "
    "upstream_core_metadata, url, cached, log, attestations"
)


_new_object = object.__new__


def _file_from_row(row: tuple[Any, ...]) -> DistFile:
    (
        file_id,
        index_id,
        project,
        version,
        filename,
        path_key,
        sha256,
        hashes,
        size,
        upload_time,
        uploader,
        yanked,
        yanked_reason,
        requires_python,
        core_metadata_sha256,
        upstream_core_metadata,
        url,
        cached,
        log,
        attestations,
    ) = row
    # DistFile is a frozen dataclass: its __init__ sets each of its 21 fields through
    # object.__setattr__, a third of the time a 9,000-file project takes to read. Rows of
    # our own database need no checks, so the fields go into the instance at once (the
    # same object: equality and hash are the dataclass's; a unit test keeps the fields
    # in step with the class).
    file = _new_object(DistFile)
    file.__dict__.update(
        id=file_id,
        index_id=index_id,
        project=project,
        version=version,
        filename=filename,
        path_key=path_key,
        sha256=sha256,
        hashes=json.loads(hashes) if hashes != "{}" else {},  # most rows: no JSON to parse
        size=size,
        upload_time=upload_time,
        uploader=uploader,
        yanked=bool(yanked),
        yanked_reason=yanked_reason,
        requires_python=requires_python,
        core_metadata_sha256=core_metadata_sha256,
        upstream_core_metadata=(
            json.loads(upstream_core_metadata) if upstream_core_metadata is not None else None
        ),
        url=url,
        cached=bool(cached),
        log=tuple(json.loads(log)) if log != "[]" else (),
        attestations=attestations,
    )
    return file


def _file_values(file: DistFile) -> tuple[Any, ...]:
    return (
        file.index_id,
        file.project,
        file.version,
        file.filename,
        file.path_key,
        file.sha256,
        json.dumps(file.hashes, sort_keys=True),
        file.size,
        file.upload_time,
        file.uploader,
        int(file.yanked),
        file.yanked_reason,
        file.requires_python,
        file.core_metadata_sha256,
        json.dumps(file.upstream_core_metadata) if file.upstream_core_metadata is not None else None,
        file.url,
        int(file.cached),
        json.dumps(list(file.log)),
        file.attestations,
    )


def _placeholders(values: list[Any]) -> str:
    return ",".join("?" * len(values))


#: Connections of ended threads kept for the next threads, at most.
SPARE_CONNECTIONS = 8

#: SQLite's memory in this process (page caches, schemas, statements), all connections.
SOFT_HEAP_LIMIT_BYTES = 16 * 1024 * 1024


class SQLiteStore:
    """:class:`~idx_server.storage.MetaStore` on one SQLite file."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self._wal_path = path.with_name(path.name + "-wal")
        self._synchronous = synchronous
        self._local = threading.local()
        self._write_lock = threading.Lock()
        #: Every thread's connection, with the thread (to close it once the thread ends).
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        #: Opened ahead of use (open_connections) or left by ended threads, for threads
        #: without one yet; those of ended threads only while fewer than SPARE_CONNECTIONS are.
        self._spare: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        #: Set when the database can only be read (its directory or disk is read-only):
        #: reads are served, every write is refused with a clear 503.
        self.read_only = _on_read_only_filesystem(path)
        conn = self._conn()
        if self.read_only:
            if migrations.pending(Database(conn)):
                raise storage_error(
                    OSError(errno.EROFS, "read-only file system, and the database needs an upgrade")
                )
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            migrations.apply(Database(conn))
        # Each request thread has its own connection, and each connection its own page
        # cache: without a bound, the process's share grows with the number of threads that
        # ever touched the database. Past this soft limit SQLite recycles cached pages
        # instead of allocating more (process-wide; the OS page cache still holds the file).
        conn.execute(f"PRAGMA soft_heap_limit={SOFT_HEAP_LIMIT_BYTES}")
        self._serial = int(self._scalar("SELECT value FROM meta WHERE key = 'serial'"))

    # -- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            # Nothing can write on a read-only file system: the file is immutable, and
            # SQLite then needs no -shm or -wal files (which it could not create).
            target = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
            conn = sqlite3.connect(target, uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-2000")  # per thread: 2 MB each
        return conn

    def open_connections(self, count: int) -> None:
        # A connection costs 0.25 ms to open and read the schema into: on a fresh server
        # that was a quarter of the CPU time of each of the first cold pages (uv asks for
        # 40 at once, each on a thread of its own). Paid once at start instead: for 64
        # threads 10 ms and 8 MB, which those threads would take anyway as they serve.
        spare = []
        for _ in range(count):
            conn = self._connect()
            conn.execute("SELECT value FROM meta WHERE key = 'serial'").fetchone()
            spare.append(conn)
        with self._connections_lock:
            self._spare.extend(spare)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StorageUnavailable(STOPPING)
            with self._connections_lock:
                # Short-lived threads (a mirror download, a page revalidation) each took a
                # connection: those of threads that have ended become spares for the next
                # thread while fewer than SPARE_CONNECTIONS are left, the rest are closed, so that
                # neither they nor their caches pile up (each may hold 2 MB of cache).
                kept = []
                for owner, other in self._connections:
                    if owner.is_alive():
                        kept.append((owner, other))
                    elif len(self._spare) < SPARE_CONNECTIONS and not other.in_transaction:
                        self._spare.append(other)
                    else:
                        with contextlib.suppress(sqlite3.Error):
                            other.close()
                conn = self._spare.pop() if self._spare else None
                self._connections = kept
            if conn is None:
                conn = self._connect()
            self._local.conn = conn
            self._local.tx = None
            # A spare may have been left at either synchronous level: set it at the first write.
            self._local.synchronous = None
            with self._connections_lock:
                self._connections.append((threading.current_thread(), conn))
        return conn

    def close(self) -> None:
        # A write still running on another thread (a mirror page revalidated in the
        # background, which a stopping server does not wait for) ends first: closing a
        # connection under a running statement crashes CPython's sqlite3. The writes
        # after this one are refused (see write()).
        locked = self._write_lock.acquire(timeout=CLOSE_WAIT_SECONDS)
        try:
            self._closed = True
            with self._connections_lock:
                for conn in [*(conn for _, conn in self._connections), *self._spare]:
                    if not locked and conn.in_transaction:
                        continue  # the write that outlasted the wait: left to the process's exit
                    with contextlib.suppress(sqlite3.ProgrammingError):
                        conn.close()
                self._connections.clear()
                self._spare.clear()
            self._local = threading.local()
        finally:
            if locked:
                self._write_lock.release()

    def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self._conn().execute(sql, tuple(params)).fetchone()
        return row[0] if row else None

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, tuple(params))

    def _require_write(self) -> None:
        if getattr(self._local, "tx", None) is None:
            raise RuntimeError("a write needs an open write transaction (store.write())")

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def write(self, durable: bool = True) -> Iterator[_Transaction]:
        current: _Transaction | None = getattr(self._local, "tx", None)
        if current is not None:
            yield current  # nested: part of the outer transaction
            return
        if self.read_only:
            raise storage_error(OSError(errno.EROFS, "read-only file system"))
        if self._closed:
            raise StorageUnavailable(STOPPING)
        conn = self._conn()
        with self._write_lock:
            if self._closed:  # closed while this thread waited for the lock
                raise StorageUnavailable(STOPPING)
            tx: _Transaction | None = None
            try:
                # A cache write (durable=False) is not fsynced at commit: a power cut may
                # undo it (never corrupt anything), and the mirror fetches again.
                synchronous = self._synchronous if durable else "NORMAL"
                if getattr(self._local, "synchronous", None) != synchronous:
                    conn.execute(f"PRAGMA synchronous={synchronous}")
                    self._local.synchronous = synchronous
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise storage_error(OSError(_disk_errno(exc), str(exc))) from exc
                serial = int(self._scalar("SELECT value FROM meta WHERE key = 'serial'")) + 1
                conn.execute("UPDATE meta SET value = ? WHERE key = 'serial'", (str(serial),))
                tx = _Transaction(serial)
                self._local.tx = tx
                try:
                    yield tx
                finally:
                    self._local.tx = None
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for callback in tx.rollback_callbacks if tx else ():
                    callback()
                if isinstance(exc, sqlite3.OperationalError) and _is_disk_error(exc):
                    raise storage_error(OSError(_disk_errno(exc), str(exc))) from exc
                raise
            self._serial = serial
        for callback in tx.commit_callbacks:
            callback()

    @contextmanager
    def read(self) -> Iterator[None]:
        conn = self._conn()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            _end_read(conn)

    def serial(self) -> int:
        return self._serial

    def change_stamp(self) -> object:
        # This process's commits move the serial; another process's commits append to
        # the write-ahead log, which changes its size or modification time.
        try:
            wal = os.stat(self._wal_path)
        except FileNotFoundError:
            return (self._serial, 0, 0)
        return (self._serial, wal.st_size, wal.st_mtime_ns)

    def get_meta(self, key: str) -> str | None:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self._require_write()
        self._execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- users ---------------------------------------------------------------------------
    _USER_COLUMNS = "name, email, pwhash, title, description, custom_data, created, modified"

    @staticmethod
    def _user(row: tuple[Any, ...]) -> User:
        name, email, pwhash, title, description, custom_data, created, modified = row
        return User(
            name=name,
            email=email,
            pwhash=pwhash,
            title=title,
            description=description,
            custom_data=json.loads(custom_data) if custom_data is not None else None,
            created=created,
            modified=modified,
        )

    def get_user(self, name: str) -> User | None:
        row = self._execute(f"SELECT {self._USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return self._user(row) if row else None

    def list_users(self) -> list[User]:
        rows = self._execute(f"SELECT {self._USER_COLUMNS} FROM users ORDER BY name").fetchall()
        return [self._user(row) for row in rows]

    def _user_values(self, user: User) -> tuple[Any, ...]:
        return (
            user.name,
            user.email,
            user.pwhash,
            user.title,
            user.description,
            json.dumps(user.custom_data) if user.custom_data is not None else None,
            user.created,
            user.modified,
        )

    def add_user(self, user: User) -> None:
        self._require_write()
        self._execute(
            f"INSERT INTO users ({self._USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self._user_values(user),
        )

    def update_user(self, user: User) -> None:
        self._require_write()
        values = self._user_values(user)
        self._execute(
            "UPDATE users SET email = ?, pwhash = ?, title = ?, description = ?, custom_data = ?, "
            "created = ?, modified = ? WHERE name = ?",
            (*values[1:], user.name),
        )

    def delete_user(self, name: str) -> None:
        self._require_write()
        self._execute("DELETE FROM users WHERE name = ?", (name,))
        self._execute("DELETE FROM tokens WHERE user = ?", (name,))

    # -- indexes -------------------------------------------------------------------------
    @staticmethod
    def _index(row: tuple[Any, ...]) -> Index:
        index_id, user, name, _type, config, created = row
        return Index(
            id=index_id, user=user, name=name, config=IndexConfig(json.loads(config)), created=created
        )

    def get_index(self, user: str, name: str) -> Index | None:
        row = self._execute(
            "SELECT id, user, name, type, config, created FROM indexes WHERE user = ? AND name = ?",
            (user, name),
        ).fetchone()
        return self._index(row) if row else None

    def list_indexes(self, user: str | None = None) -> list[Index]:
        if user is None:
            rows = self._execute(
                "SELECT id, user, name, type, config, created FROM indexes ORDER BY user, name"
            ).fetchall()
        else:
            rows = self._execute(
                "SELECT id, user, name, type, config, created FROM indexes WHERE user = ? ORDER BY name",
                (user,),
            ).fetchall()
        return [self._index(row) for row in rows]

    def add_index(self, user: str, name: str, config: IndexConfig, created: str) -> Index:
        self._require_write()
        cursor = self._execute(
            "INSERT INTO indexes (user, name, type, config, created) VALUES (?, ?, ?, ?, ?)",
            (user, name, config.type, json.dumps(config.as_dict()), created),
        )
        assert cursor.lastrowid is not None
        return Index(id=cursor.lastrowid, user=user, name=name, config=config, created=created)

    def update_index(self, index_id: int, config: IndexConfig) -> None:
        self._require_write()
        self._execute("UPDATE indexes SET config = ? WHERE id = ?", (json.dumps(config.as_dict()), index_id))

    def delete_index(self, index_id: int) -> list[str]:
        self._require_write()
        shas = self._blob_refs_where("index_id = ?", (index_id,))
        for table in ("files", "releases", "projects", "mirror_pages", "mirror_names", "toxresults"):
            self._execute(f"DELETE FROM {table} WHERE index_id = ?", (index_id,))
        self._execute("DELETE FROM indexes WHERE id = ?", (index_id,))
        return shas

    def _blob_refs_where(self, where: str, params: tuple[Any, ...]) -> list[str]:
        shas: set[str] = set()
        for sha, cm, cached in self._execute(
            f"SELECT sha256, core_metadata_sha256, cached FROM files WHERE {where}", params
        ):
            if cached and sha:
                shas.add(sha)
            if cm:
                shas.add(cm)
        for (sha,) in self._execute(
            f"SELECT sha256 FROM toxresults WHERE file_id IN (SELECT id FROM files WHERE {where})",
            params,
        ):
            shas.add(sha)
        return sorted(shas)

    # -- projects and releases -----------------------------------------------------------
    def project_names(self, index_id: int) -> list[tuple[str, str]]:
        rows = self._execute(
            "SELECT name, display_name FROM projects WHERE index_id = ? ORDER BY name", (index_id,)
        ).fetchall()
        return [(name, display) for name, display in rows]

    def indexes_with_project(self, index_ids: Iterable[int], project: str) -> set[int]:
        ids = list(index_ids)
        if not ids:
            return set()
        rows = self._execute(
            f"SELECT index_id FROM projects WHERE name = ? AND index_id IN ({_placeholders(ids)})",
            (project, *ids),
        )
        return {row[0] for row in rows}

    def project_serials(self, index_ids: Iterable[int], project: str) -> dict[int, int]:
        ids = list(index_ids)
        if not ids:
            return {}
        rows = self._execute(
            f"SELECT index_id, serial FROM projects WHERE name = ? AND index_id IN ({_placeholders(ids)})",
            (project, *ids),
        )
        return dict(rows.fetchall())

    def projects_stamp(self, index_ids: Iterable[int]) -> tuple[int, int]:
        ids = list(index_ids)
        if not ids:
            return (0, 0)
        row = self._execute(
            f"SELECT MAX(serial), COUNT(*) FROM projects WHERE index_id IN ({_placeholders(ids)})", ids
        ).fetchone()
        return (int(row[0] or 0), int(row[1]))

    def touch_project(self, index_id: int, project: str, display_name: str, serial: int) -> None:
        self._require_write()
        self._execute(
            "INSERT INTO projects (index_id, name, display_name, serial) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (index_id, name) DO UPDATE SET serial = excluded.serial, "
            "display_name = CASE WHEN excluded.display_name != '' THEN excluded.display_name "
            "ELSE projects.display_name END",
            (index_id, project, display_name or project, serial),
        )

    def delete_project(self, index_id: int, project: str) -> list[str]:
        self._require_write()
        shas = self._blob_refs_where("index_id = ? AND project = ?", (index_id, project))
        self._execute(
            "DELETE FROM toxresults WHERE file_id IN "
            "(SELECT id FROM files WHERE index_id = ? AND project = ?)",
            (index_id, project),
        )
        for table, column in (("files", "project"), ("releases", "project"), ("projects", "name")):
            self._execute(f"DELETE FROM {table} WHERE index_id = ? AND {column} = ?", (index_id, project))
        self._execute("DELETE FROM mirror_pages WHERE index_id = ? AND project = ?", (index_id, project))
        return shas

    @staticmethod
    def _release(row: tuple[Any, ...]) -> Release:
        index_id, project, version, metadata, created, serial = row
        return Release(index_id, project, version, json.loads(metadata), created, serial)

    def get_release(self, index_id: int, project: str, version: str) -> Release | None:
        row = self._execute(
            "SELECT index_id, project, version, metadata, created, serial FROM releases "
            "WHERE index_id = ? AND project = ? AND version = ?",
            (index_id, project, version),
        ).fetchone()
        return self._release(row) if row else None

    def list_releases(self, index_id: int, project: str) -> list[Release]:
        rows = self._execute(
            "SELECT index_id, project, version, metadata, created, serial FROM releases "
            "WHERE index_id = ? AND project = ?",
            (index_id, project),
        ).fetchall()
        return [self._release(row) for row in rows]

    def put_release(self, release: Release) -> None:
        self._require_write()
        self._execute(
            "INSERT OR REPLACE INTO releases (index_id, project, version, metadata, created, serial) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                release.index_id,
                release.project,
                release.version,
                json.dumps(release.metadata),
                release.created,
                release.serial,
            ),
        )

    def delete_release(self, index_id: int, project: str, version: str) -> list[str]:
        self._require_write()
        where = "index_id = ? AND project = ? AND version = ?"
        params = (index_id, project, version)
        shas = self._blob_refs_where(where, params)
        self._execute(f"DELETE FROM toxresults WHERE file_id IN (SELECT id FROM files WHERE {where})", params)
        self._execute(f"DELETE FROM files WHERE {where}", params)
        self._execute(f"DELETE FROM releases WHERE {where}", params)
        return shas

    # -- files ---------------------------------------------------------------------------
    def project_files(self, index_ids: Iterable[int], project: str) -> list[DistFile]:
        ids = list(index_ids)
        if not ids:
            return []
        rows = self._execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE project = ? AND index_id IN ({_placeholders(ids)})",
            (project, *ids),
        ).fetchall()
        return [_file_from_row(row) for row in rows]

    def release_files(self, index_id: int, project: str, version: str) -> list[DistFile]:
        rows = self._execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE index_id = ? AND project = ? AND version = ? "
            "ORDER BY filename",
            (index_id, project, version),
        ).fetchall()
        return [_file_from_row(row) for row in rows]

    def get_file(self, index_id: int, filename: str) -> DistFile | None:
        row = self._execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE index_id = ? AND filename = ?", (index_id, filename)
        ).fetchone()
        return _file_from_row(row) if row else None

    def get_file_by_id(self, file_id: int) -> DistFile | None:
        row = self._execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
        return _file_from_row(row) if row else None

    def find_file(self, index_ids: Iterable[int], path_key_prefix: str, filename: str) -> DistFile | None:
        ids = list(index_ids)
        if not ids:
            return None
        rows = self._execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE filename = ? AND index_id IN ({_placeholders(ids)})",
            (filename, *ids),
        ).fetchall()
        found = {row[1]: _file_from_row(row) for row in rows if row[5].startswith(path_key_prefix)}
        for index_id in ids:
            if index_id in found:
                return found[index_id]
        return None

    def put_file(self, file: DistFile) -> DistFile:
        self._require_write()
        existing = self._scalar(
            "SELECT id FROM files WHERE index_id = ? AND filename = ?", (file.index_id, file.filename)
        )
        values = _file_values(file)
        if existing is None:
            cursor = self._execute(
                f"INSERT INTO files ({_FILE_COLUMNS.removeprefix('id, ')}) "
                f"VALUES ({_placeholders(list(values))})",
                values,
            )
            file_id = cursor.lastrowid
        else:
            assignments = ", ".join(f"{column.strip()} = ?" for column in _FILE_COLUMNS.split(",")[1:])
            self._execute(f"UPDATE files SET {assignments} WHERE id = ?", (*values, existing))
            file_id = existing
        assert file_id is not None
        return _replace_id(file, file_id)

    def delete_file(self, file_id: int) -> list[str]:
        self._require_write()
        shas = self._blob_refs_where("id = ?", (file_id,))
        self._execute("DELETE FROM toxresults WHERE file_id = ?", (file_id,))
        self._execute("DELETE FROM files WHERE id = ?", (file_id,))
        return shas

    def set_yanked(self, index_id: int, project: str, version: str, yanked: bool, reason: str) -> int:
        self._require_write()
        cursor = self._execute(
            "UPDATE files SET yanked = ?, yanked_reason = ? "
            "WHERE index_id = ? AND project = ? AND version = ?",
            (int(yanked), reason if yanked else "", index_id, project, version),
        )
        return cursor.rowcount

    def blob_in_use(self, sha256: str) -> bool:
        return bool(
            self._scalar(
                "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ? AND cached = 1) "
                "OR EXISTS (SELECT 1 FROM files WHERE core_metadata_sha256 = ?) "
                "OR EXISTS (SELECT 1 FROM toxresults WHERE sha256 = ?)",
                (sha256, sha256, sha256),
            )
        )

    def all_blob_refs(self) -> set[str]:
        refs: set[str] = set()
        for sha, cm, cached in self._execute("SELECT sha256, core_metadata_sha256, cached FROM files"):
            if cached and sha:
                refs.add(sha)
            if cm:
                refs.add(cm)
        refs.update(row[0] for row in self._execute("SELECT sha256 FROM toxresults"))
        return refs

    def iter_files(self, index_id: int | None = None) -> Iterator[DistFile]:
        if index_id is None:
            cursor = self._execute(f"SELECT {_FILE_COLUMNS} FROM files ORDER BY id")
        else:
            cursor = self._execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE index_id = ? ORDER BY id", (index_id,)
            )
        for row in cursor.fetchall():
            yield _file_from_row(row)

    # -- mirrors -------------------------------------------------------------------------
    def get_mirror_page(self, index_id: int, project: str) -> MirrorPage | None:
        row = self._execute(
            "SELECT status, etag, last_modified, checked_at, display_name, versions, project_status, "
            "upstream_serial FROM mirror_pages WHERE index_id = ? AND project = ?",
            (index_id, project),
        ).fetchone()
        if row is None:
            return None
        status, etag, last_modified, checked_at, display, versions, project_status, serial = row
        return MirrorPage(
            index_id=index_id,
            project=project,
            status=status,
            etag=etag,
            last_modified=last_modified,
            checked_at=checked_at,
            display_name=display,
            versions=tuple(json.loads(versions)),
            project_status=json.loads(project_status) if project_status else None,
            upstream_serial=serial,
        )

    def put_mirror_page(self, page: MirrorPage, files: list[DistFile] | None) -> bool:
        self._require_write()
        self._execute(
            "INSERT OR REPLACE INTO mirror_pages (index_id, project, status, etag, last_modified, "
            "checked_at, display_name, versions, project_status, upstream_serial) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                page.index_id,
                page.project,
                page.status,
                page.etag,
                page.last_modified,
                page.checked_at,
                page.display_name,
                json.dumps(list(page.versions)),
                json.dumps(page.project_status) if page.project_status else None,
                page.upstream_serial,
            ),
        )
        if files is None:
            return False
        return self._sync_mirror_files(page.index_id, page.project, files)

    def _sync_mirror_files(self, index_id: int, project: str, files: list[DistFile]) -> bool:
        """Make ``files`` the project's links: new ones inserted in one batch, changed ones
        updated (keeping what was learnt locally), vanished ones removed."""
        existing = {f.filename: f for f in self.project_files([index_id], project)}
        inserts: list[DistFile] = []
        gone: list[int] = []
        changed = False
        seen: set[str] = set()
        for new in files:
            if new.filename in seen:
                continue
            seen.add(new.filename)
            old = existing.get(new.filename)
            if old is not None and old.path_key == new.path_key:
                merged = _merge_upstream_facts(old, new)
                if merged != old:
                    self.put_file(merged)
                    changed = True
                continue
            if old is not None:
                gone.append(old.id)
            inserts.append(new)
        gone += [old.id for filename, old in existing.items() if filename not in seen]
        if gone:
            self._conn().executemany("DELETE FROM files WHERE id = ?", [(file_id,) for file_id in gone])
        if inserts:
            columns = _FILE_COLUMNS.removeprefix("id, ")
            self._conn().executemany(
                f"INSERT INTO files ({columns}) VALUES ({_placeholders(list(_file_values(inserts[0])))})",
                [_file_values(f) for f in inserts],
            )
        return changed or bool(gone) or bool(inserts)

    def mark_cached(self, file_id: int, sha256: str, size: int, core_metadata_sha256: str = "") -> None:
        self._require_write()
        if core_metadata_sha256:
            self._execute(
                "UPDATE files SET cached = 1, sha256 = ?, size = ?, core_metadata_sha256 = ?, "
                "last_access = ? WHERE id = ?",
                (sha256, size, core_metadata_sha256, time.time(), file_id),
            )
        else:
            self._execute(
                "UPDATE files SET cached = 1, sha256 = ?, size = ?, last_access = ? WHERE id = ?",
                (sha256, size, time.time(), file_id),
            )

    def set_core_metadata(self, file_id: int, core_metadata_sha256: str) -> None:
        self._require_write()
        self._execute(
            "UPDATE files SET core_metadata_sha256 = ? WHERE id = ?", (core_metadata_sha256, file_id)
        )

    def touch_files(self, accessed: dict[int, float]) -> None:
        self._require_write()
        self._conn().executemany(
            "UPDATE files SET last_access = ? WHERE id = ?",
            [(when, file_id) for file_id, when in accessed.items()],
        )

    def cached_files_lru(self, index_id: int) -> Iterator[DistFile]:
        rows = self._execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE index_id = ? AND cached = 1 AND url != '' "
            "ORDER BY last_access",
            (index_id,),
        ).fetchall()
        for row in rows:
            yield _file_from_row(row)

    def uncache_file(self, file_id: int) -> None:
        self._require_write()
        self._execute("UPDATE files SET cached = 0 WHERE id = ?", (file_id,))

    def memory_metrics(self) -> list[tuple[str, str, float]]:
        """Memory the store holds in this process, for ``/+metrics``."""
        memory_used = _sqlite_memory_used()
        if memory_used is None:
            return []
        with self._connections_lock:
            connections = len(self._connections) + len(self._spare)
        return [
            ("idx_sqlite_memory_bytes", "gauge", memory_used()),
            ("idx_sqlite_connections", "gauge", connections),
        ]

    def mirror_cache_size(self, index_id: int | None = None) -> int:
        if index_id is None:
            value = self._scalar("SELECT SUM(size) FROM files WHERE cached = 1 AND url != ''")
        else:
            value = self._scalar(
                "SELECT SUM(size) FROM files WHERE cached = 1 AND url != '' AND index_id = ?", (index_id,)
            )
        return int(value or 0)

    def get_mirror_names(self, index_id: int, with_names: bool = True) -> MirrorNames | None:
        names = "names" if with_names else "X''"
        row = self._execute(
            f"SELECT etag, checked_at, count, {names} FROM mirror_names WHERE index_id = ?", (index_id,)
        ).fetchone()
        if row is None:
            return None
        etag, checked_at, count, blob = row
        return MirrorNames(index_id, bytes(blob), count, etag, checked_at)

    def put_mirror_names(self, names: MirrorNames) -> None:
        self._require_write()
        self._execute(
            "INSERT OR REPLACE INTO mirror_names (index_id, etag, checked_at, count, names) "
            "VALUES (?, ?, ?, ?, ?)",
            (names.index_id, names.etag, names.checked_at, names.count, names.blob),
        )

    def touch_mirror_names(self, index_id: int, checked_at: float) -> None:
        self._require_write()
        self._execute("UPDATE mirror_names SET checked_at = ? WHERE index_id = ?", (checked_at, index_id))

    # -- tokens --------------------------------------------------------------------------
    _TOKEN_COLUMNS = "id, user, kind, created, expires, scope, index_name, description, last_used"  # noqa: S105

    @staticmethod
    def _token(row: tuple[Any, ...]) -> Token:
        token_id, user, kind, created, expires, scope, index_name, description, last_used = row
        return Token(token_id, user, kind, created, expires, scope, index_name, description, last_used)

    def add_token(self, token: Token, secret_hash: str) -> Token:
        self._require_write()
        cursor = self._execute(
            "INSERT INTO tokens (user, secret_hash, kind, scope, index_name, description, created, expires) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.user,
                secret_hash,
                token.kind,
                token.scope,
                token.index,
                token.description,
                token.created,
                token.expires,
            ),
        )
        assert cursor.lastrowid is not None
        return Token(
            cursor.lastrowid,
            token.user,
            token.kind,
            token.created,
            token.expires,
            token.scope,
            token.index,
            token.description,
        )

    def find_token(self, secret_hash: str) -> Token | None:
        row = self._execute(
            f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?", (secret_hash,)
        ).fetchone()
        return self._token(row) if row else None

    def list_tokens(self, user: str) -> list[Token]:
        rows = self._execute(
            f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE user = ? ORDER BY id", (user,)
        ).fetchall()
        return [self._token(row) for row in rows]

    def delete_token(self, token_id: int) -> None:
        self._require_write()
        self._execute("DELETE FROM tokens WHERE id = ?", (token_id,))

    def delete_expired_tokens(self, now: float) -> None:
        self._require_write()
        self._execute("DELETE FROM tokens WHERE expires > 0 AND expires < ?", (now,))

    # -- test results --------------------------------------------------------------------
    def add_toxresult(self, result: ToxResult) -> ToxResult:
        self._require_write()
        cursor = self._execute(
            "INSERT INTO toxresults (index_id, file_id, filename, sha256, uploader, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                result.index_id,
                result.file_id,
                result.filename,
                result.sha256,
                result.uploader,
                result.created,
            ),
        )
        assert cursor.lastrowid is not None
        return ToxResult(
            cursor.lastrowid,
            result.index_id,
            result.file_id,
            result.filename,
            result.sha256,
            result.created,
            result.uploader,
        )

    def toxresults_for(self, file_ids: Iterable[int]) -> list[ToxResult]:
        ids = list(file_ids)
        if not ids:
            return []
        rows = self._execute(
            "SELECT id, index_id, file_id, filename, sha256, created, uploader FROM toxresults "
            f"WHERE file_id IN ({_placeholders(ids)}) ORDER BY id",
            ids,
        ).fetchall()
        return [ToxResult(*row) for row in rows]

    def iter_toxresults(self) -> Iterator[ToxResult]:
        rows = self._execute(
            "SELECT id, index_id, file_id, filename, sha256, created, uploader FROM toxresults ORDER BY id"
        ).fetchall()
        for row in rows:
            yield ToxResult(*row)

    def delete_toxresult(self, result_id: int) -> None:
        self._require_write()
        self._execute("DELETE FROM toxresults WHERE id = ?", (result_id,))

    # -- the whole store -----------------------------------------------------------------
    def iter_releases(self, index_id: int) -> Iterator[Release]:
        rows = self._execute(
            "SELECT index_id, project, version, metadata, created, serial FROM releases "
            "WHERE index_id = ? ORDER BY project, version",
            (index_id,),
        ).fetchall()
        for row in rows:
            yield self._release(row)

    def iter_tokens(self) -> Iterator[tuple[Token, str]]:
        rows = self._execute(f"SELECT {self._TOKEN_COLUMNS}, secret_hash FROM tokens ORDER BY id").fetchall()
        for row in rows:
            yield self._token(row[:-1]), row[-1]

    def mirror_page_projects(self, index_id: int) -> list[str]:
        rows = self._execute(
            "SELECT project FROM mirror_pages WHERE index_id = ? ORDER BY project", (index_id,)
        ).fetchall()
        return [row[0] for row in rows]

    def index_ids_in_use(self) -> set[int]:
        tables = ("projects", "releases", "files", "toxresults", "mirror_pages", "mirror_names")
        sql = " UNION ".join(f"SELECT DISTINCT index_id FROM {table}" for table in tables)
        return {row[0] for row in self._execute(sql)}

    # -- counts --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {
            "users": int(self._scalar("SELECT COUNT(*) FROM users")),
            "indexes": int(self._scalar("SELECT COUNT(*) FROM indexes")),
            "projects": int(self._scalar("SELECT COUNT(*) FROM projects")),
            "releases": int(self._scalar("SELECT COUNT(*) FROM releases")),
            "files": int(self._scalar("SELECT COUNT(*) FROM files WHERE cached = 1")),
            "toxresults": int(self._scalar("SELECT COUNT(*) FROM toxresults")),
        }


def _on_read_only_filesystem(path: Path) -> bool:
    """Whether the database's directory is on a read-only file system (or not writable)."""
    directory = path.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return path.exists() and not os.access(directory, os.W_OK)


def _end_read(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")


def _replace_id(file: DistFile, file_id: int) -> DistFile:
    from dataclasses import replace

    return replace(file, id=file_id)


def _merge_upstream_facts(old: DistFile, new: DistFile) -> DistFile:
    """Upstream's current facts, with what we learnt locally (cache state, real hashes) kept."""
    from dataclasses import replace

    return replace(
        new,
        id=old.id,
        sha256=old.sha256 if old.cached else new.sha256,
        size=old.size if old.cached and old.size is not None else new.size,
        cached=old.cached,
        core_metadata_sha256=old.core_metadata_sha256,
        log=old.log,
    )


def _is_disk_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "disk" in text or "readonly" in text or "read-only" in text or "full" in text


def _disk_errno(exc: sqlite3.OperationalError) -> int:
    text = str(exc).lower()
    if "full" in text:
        return errno.ENOSPC
    if "readonly" in text or "read-only" in text:
        return errno.EROFS
    return errno.EIO
