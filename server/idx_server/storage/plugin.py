"""The built-in storage backend as a plugin of idx's own hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idx_server import hookimpl
from idx_server.storage import BlobStore, MetaStore, StorageBackend

if TYPE_CHECKING:
    from idx_server.settings import Settings


def open_sqlite(settings: Settings) -> tuple[MetaStore, BlobStore]:
    from idx_server.storage.blobs import FileBlobStore
    from idx_server.storage.sqlite import SQLiteStore

    settings.serverdir.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(settings.serverdir / "idx.sqlite"), FileBlobStore(settings.serverdir / "+files")


@hookimpl
def idx_storage_backends() -> list[StorageBackend]:
    return [
        StorageBackend(
            name="sqlite",
            description="SQLite database plus content-addressed files in the server directory",
            open=open_sqlite,
        )
    ]
