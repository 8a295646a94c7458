"""The SQLite schema, as an ordered list of migrations (sqlite-utils ``Migrations``).

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("idx")


def _run(db: Database, script: str) -> None:
    """Run several statements inside the migration's transaction.

    (``executescript`` would commit first, breaking the migration's atomicity.)
    """
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m0001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('serial', '0');

        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            email TEXT NOT NULL DEFAULT '',
            pwhash TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            custom_data TEXT,
            created TEXT NOT NULL,
            modified TEXT NOT NULL
        );

        CREATE TABLE indexes (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL REFERENCES users(name),
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            config TEXT NOT NULL,
            created TEXT NOT NULL,
            UNIQUE (user, name)
        );

        CREATE TABLE projects (
            index_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            serial INTEGER NOT NULL,
            PRIMARY KEY (index_id, name)
        ) WITHOUT ROWID;
        CREATE INDEX projects_by_name ON projects (name, index_id);

        CREATE TABLE releases (
            index_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            version TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created TEXT NOT NULL,
            serial INTEGER NOT NULL,
            PRIMARY KEY (index_id, project, version)
        ) WITHOUT ROWID;

        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            index_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            version TEXT NOT NULL,
            filename TEXT NOT NULL,
            path_key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            hashes TEXT NOT NULL DEFAULT '{}',
            size INTEGER,
            upload_time TEXT NOT NULL DEFAULT '',
            uploader TEXT NOT NULL DEFAULT '',
            yanked INTEGER NOT NULL DEFAULT 0,
            yanked_reason TEXT NOT NULL DEFAULT '',
            requires_python TEXT NOT NULL DEFAULT '',
            core_metadata_sha256 TEXT NOT NULL DEFAULT '',
            upstream_core_metadata TEXT,
            url TEXT NOT NULL DEFAULT '',
            cached INTEGER NOT NULL DEFAULT 1,
            last_access REAL NOT NULL DEFAULT 0,
            log TEXT NOT NULL DEFAULT '[]',
            attestations TEXT NOT NULL DEFAULT '',
            UNIQUE (index_id, filename)
        );
        CREATE INDEX files_by_project ON files (index_id, project);
        CREATE INDEX files_by_sha256 ON files (sha256);
        CREATE INDEX files_by_core_metadata ON files (core_metadata_sha256)
            WHERE core_metadata_sha256 != '';
        CREATE INDEX files_cached_lru ON files (index_id, last_access) WHERE cached = 1 AND url != '';

        CREATE TABLE mirror_pages (
            index_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            status INTEGER NOT NULL,
            etag TEXT NOT NULL DEFAULT '',
            last_modified TEXT NOT NULL DEFAULT '',
            checked_at REAL NOT NULL DEFAULT 0,
            display_name TEXT NOT NULL DEFAULT '',
            versions TEXT NOT NULL DEFAULT '[]',
            project_status TEXT,
            upstream_serial INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (index_id, project)
        ) WITHOUT ROWID;

        CREATE TABLE mirror_names (
            index_id INTEGER PRIMARY KEY,
            etag TEXT NOT NULL DEFAULT '',
            checked_at REAL NOT NULL DEFAULT 0,
            count INTEGER NOT NULL DEFAULT 0,
            names BLOB NOT NULL
        );

        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL,
            secret_hash TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT '',
            index_name TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            expires REAL NOT NULL,
            last_used REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX tokens_by_user ON tokens (user);

        CREATE TABLE toxresults (
            id INTEGER PRIMARY KEY,
            index_id INTEGER NOT NULL,
            file_id INTEGER NOT NULL,
            filename TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            uploader TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        );
        CREATE INDEX toxresults_by_file ON toxresults (file_id);
        CREATE INDEX toxresults_by_sha256 ON toxresults (sha256);
        """,
    )
