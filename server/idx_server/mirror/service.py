"""Placeholder mirror: serves what is cached, never contacts upstream."""

from __future__ import annotations

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import UpstreamUnavailable
from idx_server.model.indexes import Index
from idx_server.services.files import FileStream
from idx_server.services.resolve import FRESH, MISSING, UpstreamNames
from idx_server.storage import BlobStore, MetaStore


class MirrorService:
    def __init__(self, store: MetaStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def refresh_project(self, index: Index, project: str, force: bool = False) -> str:
        page = self.store.get_mirror_page(index.id, project)
        return FRESH if page is not None and page.status == 200 else MISSING

    def upstream_names(self, index: Index) -> UpstreamNames | None:
        return None

    def is_offline(self, index: Index) -> bool:
        return True

    def stream_file(self, index: Index, file: DistFile) -> FileStream:
        raise UpstreamUnavailable(f"{file.filename} is not cached and the mirror is offline")

    def core_metadata(self, index: Index, file: DistFile) -> str | None:
        return None
