"""What ``idx-server check --repair`` does about each kind of problem.

Each function returns the fix as a callable, run later. A fix looks again before it
changes anything (the server may have moved on since the scan) and makes its row
changes in one write transaction; it returns whether the problem is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from idx_server.maintenance.store_scan import BlobUse, RowProblem
from idx_server.model.distfiles import DistFile, parse_dist_filename
from idx_server.model.errors import IdxError
from idx_server.model.users import Release
from idx_server.services.archives import read_metadata
from idx_server.storage import BlobStore, MetaStore

log = logging.getLogger("idx.check")

Fix = Callable[[], bool]


def still_missing(blobs: BlobStore, sha256: str) -> Callable[[], bool]:
    return lambda: not blobs.exists(sha256)


def remove_temp(blobs: BlobStore, name: str) -> Fix:
    def fix() -> bool:
        blobs.remove_temp(name)
        return True

    return fix


def drop_orphan(store: MetaStore, blobs: BlobStore, sha256: str, cutoff: float) -> Fix:
    def fix() -> bool:
        # Inside a write transaction no row referring to it can commit meanwhile; a writer
        # that found the blob already there has refreshed its time (FileBlobWriter.commit).
        with store.write():
            if store.blob_in_use(sha256):
                return True  # it was committed after the scan: not an orphan after all
            try:
                if blobs.modified(sha256) > cutoff:
                    return False
            except FileNotFoundError:
                return True
            blobs.delete(sha256)
        return True

    return fix


def uncache(store: MetaStore, file: DistFile, missing: Callable[[], bool]) -> Fix:
    def fix() -> bool:
        with store.write() as tx:
            current = store.get_file(file.index_id, file.filename)
            if current is None or not current.cached or current.sha256 != file.sha256 or not missing():
                return True
            store.uncache_file(current.id)
            store.touch_project(current.index_id, current.project, "", tx.serial)
        return True

    return fix


def restore_core_metadata(
    store: MetaStore, blobs: BlobStore, file: DistFile, missing: Callable[[], bool]
) -> Fix:
    def fix() -> bool:
        if not missing():
            return True
        _redo_core_metadata(store, blobs, file)
        return True

    return fix


def drop_damaged(store: MetaStore, blobs: BlobStore, sha256: str, uses: Iterable[BlobUse]) -> Fix:
    """A damaged blob that only mirror files and core metadata use: derived data, got again."""
    uses = list(uses)

    def fix() -> bool:
        with store.write() as tx:
            for use in uses:
                current = store.get_file(use.file.index_id, use.file.filename) if use.file else None
                if current is None:
                    continue
                if use.kind == "file" and current.cached and current.sha256 == sha256:
                    store.uncache_file(current.id)
                elif use.kind == "core-metadata" and current.core_metadata_sha256 == sha256:
                    store.set_core_metadata(current.id, "")
                store.touch_project(current.index_id, current.project, "", tx.serial)
            if store.blob_in_use(sha256):
                return False
            blobs.delete(sha256)
        for use in uses:
            if use.kind == "core-metadata" and use.file is not None and not use.file.url:
                _redo_core_metadata(store, blobs, use.file)
        return True

    return fix


def _redo_core_metadata(store: MetaStore, blobs: BlobStore, file: DistFile) -> None:
    """Extract a private wheel's core metadata again; a mirror's is fetched on demand."""
    sha = "" if file.url else _extract_core_metadata(blobs, file)
    with store.write() as tx:
        current = store.get_file(file.index_id, file.filename)
        if current is None or current.core_metadata_sha256 != file.core_metadata_sha256:
            return
        store.set_core_metadata(current.id, sha)
        store.touch_project(current.index_id, current.project, "", tx.serial)


def _extract_core_metadata(blobs: BlobStore, file: DistFile) -> str:
    if not (file.cached and file.sha256 and file.filename.endswith(".whl") and blobs.exists(file.sha256)):
        return ""
    path = blobs.local_path(file.sha256)
    if path is None:
        return ""
    try:
        found = read_metadata(Path(path), parse_dist_filename(file.filename))
    except (IdxError, OSError) as exc:
        log.warning("no core metadata could be read from %s: %s", file.filename, exc)
        return ""
    return blobs.put_bytes(found.data) if found.data else ""


# -- rows ----------------------------------------------------------------------------------------
def row_fix(store: MetaStore, blobs: BlobStore, found: RowProblem) -> Fix | None:
    fixes: dict[str, Callable[[MetaStore, BlobStore, RowProblem], bool]] = {
        "rows-without-index": _delete_rows_of_index,
        "empty-release": _delete_empty_release,
        "release-without-project": _add_project_row,
        "file-without-release": _add_release_row,
        "project-without-releases": _delete_empty_project,
        "toxresult-without-file": _delete_toxresult,
    }
    action = fixes.get(found.kind)
    if action is None:
        return None
    return lambda: action(store, blobs, found)


def _drop_unused(store: MetaStore, blobs: BlobStore, shas: Iterable[str]) -> None:
    for sha in shas:
        if sha and not store.blob_in_use(sha):
            blobs.delete(sha)


def _delete_rows_of_index(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    with store.write():
        if any(ix.id == found.index_id for ix in store.list_indexes()):
            return True
        shas = store.delete_index(found.index_id)
    _drop_unused(store, blobs, shas)
    return True


def _delete_empty_release(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    with store.write() as tx:
        if store.release_files(found.index_id, found.project, found.version):
            return True
        store.delete_release(found.index_id, found.project, found.version)
        if store.list_releases(found.index_id, found.project):
            store.touch_project(found.index_id, found.project, "", tx.serial)
        else:
            store.delete_project(found.index_id, found.project)
    return True


def _add_project_row(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    with store.write() as tx:
        store.touch_project(found.index_id, found.project, found.display_name, tx.serial)
    return True


def _add_release_row(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    with store.write() as tx:
        if store.get_release(found.index_id, found.project, found.version) is not None:
            return True
        if not store.release_files(found.index_id, found.project, found.version):
            return True
        metadata = {"name": found.project, "version": found.version}
        store.put_release(
            Release(found.index_id, found.project, found.version, metadata, found.created, tx.serial)
        )
        store.touch_project(found.index_id, found.project, "", tx.serial)
    return True


def _delete_empty_project(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    with store.write():
        if store.list_releases(found.index_id, found.project) or store.project_files(
            [found.index_id], found.project
        ):
            return True
        store.delete_project(found.index_id, found.project)
    return True


def _delete_toxresult(store: MetaStore, blobs: BlobStore, found: RowProblem) -> bool:
    assert found.result is not None
    with store.write():
        store.delete_toxresult(found.result.id)
    _drop_unused(store, blobs, [found.result.sha256])
    return True
