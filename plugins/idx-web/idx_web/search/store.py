"""The search index: its own SQLite file with an FTS5 table (the only module with SQL).

One entry per project per index: the project's name, and for private indexes the summary
and description of its latest release. Everything here is derived from idx-server's
data and can be rebuilt from it at any time (delete the file, restart).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = "1"
#: Descriptions are indexed up to this many characters (the rest rarely helps a search).
MAX_DESCRIPTION = 100_000
#: Marks around matched words in snippets (control characters never occur in escaped text).
MARK_START = "\x02"
MARK_END = "\x03"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL,
    index_created TEXT NOT NULL,
    project TEXT NOT NULL,
    display_name TEXT NOT NULL,
    version TEXT NOT NULL,
    serial INTEGER NOT NULL,
    UNIQUE (index_name, project)
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    name, summary, description, tokenize = 'unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True)
class Entry:
    """What is searchable about one project on one index."""

    index_name: str
    #: When the index was created: an index deleted and made again is a different one.
    index_created: str
    project: str
    display_name: str
    version: str = ""
    summary: str = ""
    description: str = ""
    #: The core's serial of the project's last change on that index.
    serial: int = 0


@dataclass(frozen=True)
class Hit:
    index_name: str
    project: str
    display_name: str
    version: str
    summary: str
    #: An excerpt of the description with matches between MARK_START and MARK_END.
    snippet: str


@dataclass(frozen=True)
class Indexed:
    """What the search index holds for one project of one index."""

    index_created: str
    serial: int


class SearchStore:
    """Thread-safe access to the search database: a connection per thread, one writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        with self._write_lock:
            conn = self._conn()
            if self._get_meta(conn, "schema") not in (None, SCHEMA_VERSION):
                conn.executescript("DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS entries_fts;")
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 10000")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return str(row[0]) if row else None

    def get_meta(self, key: str) -> str | None:
        return self._get_meta(self._conn(), key)

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- writing ---------------------------------------------------------------------------
    def put(self, entry: Entry) -> None:
        """Add or replace the entry of ``entry.project`` on ``entry.index_name``."""
        with self._write() as conn:
            self._delete(conn, entry.index_name, entry.project)
            cursor = conn.execute(
                "INSERT INTO entries (index_name, index_created, project, display_name, version, serial) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.index_name,
                    entry.index_created,
                    entry.project,
                    entry.display_name,
                    entry.version,
                    entry.serial,
                ),
            )
            conn.execute(
                "INSERT INTO entries_fts (rowid, name, summary, description) VALUES (?, ?, ?, ?)",
                (
                    cursor.lastrowid,
                    _searchable_name(entry.display_name, entry.project),
                    entry.summary,
                    entry.description[:MAX_DESCRIPTION],
                ),
            )

    def delete(self, index_name: str, project: str) -> None:
        with self._write() as conn:
            self._delete(conn, index_name, project)

    def delete_index(self, index_name: str) -> None:
        with self._write() as conn:
            ids = [
                row[0] for row in conn.execute("SELECT id FROM entries WHERE index_name = ?", (index_name,))
            ]
            for rowid in ids:
                conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (rowid,))
            conn.execute("DELETE FROM entries WHERE index_name = ?", (index_name,))

    @staticmethod
    def _delete(conn: sqlite3.Connection, index_name: str, project: str) -> None:
        row = conn.execute(
            "SELECT id FROM entries WHERE index_name = ? AND project = ?", (index_name, project)
        ).fetchone()
        if row is not None:
            conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (row[0],))
            conn.execute("DELETE FROM entries WHERE id = ?", (row[0],))

    # -- reading ---------------------------------------------------------------------------
    def indexed(self, index_name: str) -> dict[str, Indexed]:
        """project -> what is indexed for it, for one index."""
        rows = self._conn().execute(
            "SELECT project, index_created, serial FROM entries WHERE index_name = ?", (index_name,)
        )
        return {project: Indexed(created, serial) for project, created, serial in rows}

    def version(self, index_name: str, project: str) -> str | None:
        """The version indexed for ``project`` of ``index_name`` (None: not indexed)."""
        row = (
            self._conn()
            .execute(
                "SELECT version FROM entries WHERE index_name = ? AND project = ?", (index_name, project)
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def index_names(self) -> set[str]:
        return {row[0] for row in self._conn().execute("SELECT DISTINCT index_name FROM entries")}

    def search(
        self, match: str, indexes: Iterable[tuple[str, str]], exact_name: str, limit: int, offset: int
    ) -> tuple[list[Hit], int]:
        """Entries matching the FTS5 expression ``match`` on the given (index name, created)
        pairs, best first (an exact name first), and how many match in all."""
        pairs = list(indexes)
        if not pairs:
            return [], 0
        conn = self._conn()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS readable (index_name TEXT, index_created TEXT)")
        conn.execute("DELETE FROM temp.readable")
        conn.executemany("INSERT INTO temp.readable VALUES (?, ?)", pairs)
        total = conn.execute(_COUNT_SQL, (match,)).fetchone()[0]
        rows = conn.execute(_SEARCH_SQL, (match, exact_name, limit, offset)).fetchall()
        return [Hit(*row) for row in rows], int(total)


_MATCHING = (
    "FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid "
    "WHERE entries_fts MATCH ? AND EXISTS (SELECT 1 FROM temp.readable r "
    "WHERE r.index_name = e.index_name AND r.index_created = e.index_created)"
)
_COUNT_SQL = "SELECT COUNT(*) " + _MATCHING
# Name matches weigh most, then the summary; an exact name comes first of all.
_SEARCH_SQL = (
    "SELECT e.index_name, e.project, e.display_name, e.version, entries_fts.summary, "
    f"snippet(entries_fts, 2, '{MARK_START}', '{MARK_END}', ' … ', 24) "
    + _MATCHING
    + " ORDER BY e.project = ? DESC, bm25(entries_fts, 10.0, 4.0, 1.0), e.project, e.index_name "
    "LIMIT ? OFFSET ?"
)


def _searchable_name(display_name: str, project: str) -> str:
    """The name as words: ``foo_bar.baz`` is found as foo, bar, baz and as itself."""
    names = {display_name, project}
    return " ".join(sorted(names))
