"""What an import writes, whatever it was read from (an idx export or a devpi dump), and
writing it: all or nothing, into a server directory that holds no data yet.

The blobs are copied first, each verified against its sha256 (and size) as it is
written; then every row is written in one transaction. If anything fails, the
transaction rolls back and the blobs copied so far are deleted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from idx_server.maintenance import MaintenanceError, OpenStorage
from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import IndexConfig
from idx_server.model.users import ROOT, Release, User
from idx_server.services.indexes import CONFIG_SERIAL
from idx_server.storage import BlobStore, MetaStore, MirrorPage, Token, ToxResult

log = logging.getLogger("idx.import")

COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BlobSource:
    """Where the bytes of one blob come from: a file, or bytes made during the import
    (made again when copied, so a large import does not hold them all in memory)."""

    sha256: str
    #: How the source names it, for messages (a path relative to the dump).
    describe: str
    path: Path | None = None
    make: Callable[[], bytes] | None = None
    size: int | None = None


@dataclass
class PlannedFile:
    #: The row to write (``index_id`` and ``id`` are set when written).
    file: DistFile
    #: Its test results (``index_id`` and ``file_id`` are set when written).
    toxresults: list[ToxResult] = field(default_factory=list)


@dataclass
class PlannedIndex:
    user: str
    name: str
    config: IndexConfig
    created: str = ""
    #: normalized name -> display name
    projects: dict[str, str] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    files: list[PlannedFile] = field(default_factory=list)
    #: Mirrors only: upstream pages, whose links are the ``files`` of that project.
    mirror_pages: list[MirrorPage] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.user}/{self.name}"


@dataclass
class ImportPlan:
    users: list[User] = field(default_factory=list)
    indexes: list[PlannedIndex] = field(default_factory=list)
    #: API tokens with the hashes of their secrets.
    tokens: list[tuple[Token, str]] = field(default_factory=list)
    blobs: dict[str, BlobSource] = field(default_factory=dict)
    #: Things the person importing should know (skipped data, changed settings).
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "indexes": len(self.indexes),
            "releases": sum(len(ix.releases) for ix in self.indexes),
            "files": sum(len(ix.files) for ix in self.indexes),
            "toxresults": sum(len(f.toxresults) for ix in self.indexes for f in ix.files),
            "tokens": len(self.tokens),
            "blobs": len(self.blobs),
        }


# -- checks before anything is written ---------------------------------------------------------
def require_empty(store: MetaStore, blobs: BlobStore, where: str) -> None:
    """Refuse a store with data; one a server only initialized (root, root/pypi) is empty."""
    users = [u.name for u in store.list_users() if u.name != ROOT]
    indexes = [ix.full_name for ix in store.list_indexes() if ix.full_name != f"{ROOT}/pypi"]
    counts = store.counts()
    held = [f"users {', '.join(users)}"] if users else []
    held += [f"indexes {', '.join(indexes)}"] if indexes else []
    held += [f"{counts[k]} {k}" for k in ("projects", "releases", "files", "toxresults") if counts.get(k)]
    if not held and next(iter(blobs.iter_all()), None) is not None:
        held.append("stored files")
    if held:
        raise MaintenanceError(
            f"{where} already holds data ({'; '.join(held)}); import only into a new, empty "
            "server directory (give another --serverdir)"
        )


def validate_plan(plan: ImportPlan) -> None:
    """Refuse a plan whose parts do not fit together (a damaged or edited export)."""
    users = {u.name for u in plan.users} | {ROOT}
    names = [ix.full_name for ix in plan.indexes]
    errors = []
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"index {name} appears twice")
    known = set(names) | {f"{ROOT}/pypi"}
    for index in plan.indexes:
        if index.user not in users:
            errors.append(f"index {index.full_name} belongs to user {index.user!r}, who is not in it")
        errors += [
            f"index {index.full_name} has the unknown base {b}" for b in index.config.bases if b not in known
        ]
        filenames = [planned.file.filename for planned in index.files]
        errors += [
            f"{index.full_name} {n}: in it twice" for n in sorted(set(filenames)) if filenames.count(n) > 1
        ]
        for planned in index.files:
            f = planned.file
            needed = [f.sha256] if f.cached and f.sha256 else []
            needed += [f.core_metadata_sha256] if f.core_metadata_sha256 else []
            needed += [r.sha256 for r in planned.toxresults]
            errors += [
                f"{index.full_name} {f.filename}: blob {sha} is not in it"
                for sha in needed
                if sha not in plan.blobs
            ]
    if errors:
        shown = "; ".join(errors[:10]) + (f"; and {len(errors) - 10} more" if len(errors) > 10 else "")
        raise MaintenanceError(f"the data to import does not fit together: {shown}")


# -- writing ---------------------------------------------------------------------------------
def apply_plan(opened: OpenStorage, plan: ImportPlan, progress: Callable[[str], None] = log.info) -> None:
    """Write ``plan`` into the (empty) store, all or nothing."""
    store, blobs = opened.store, opened.blobs
    validate_plan(plan)
    require_empty(store, blobs, str(opened.settings.serverdir))
    written: list[str] = []
    try:
        for number, source in enumerate(plan.blobs.values(), 1):
            if not blobs.exists(source.sha256):
                _copy_blob(blobs, source)
                written.append(source.sha256)
            if number % 1000 == 0:
                progress(f"copied {number} of {len(plan.blobs)} files")
        _write_rows(store, plan)
    except BaseException:
        for sha in written:
            if not store.blob_in_use(sha):
                blobs.delete(sha)
        raise


def _copy_blob(blobs: BlobStore, source: BlobSource) -> None:
    writer = blobs.writer()
    committed = False
    try:
        if source.make is not None:
            writer.write(source.make())
        else:
            assert source.path is not None
            try:
                with source.path.open("rb") as handle:
                    while chunk := handle.read(COPY_CHUNK):
                        writer.write(chunk)
            except FileNotFoundError:
                raise MaintenanceError(
                    f"{source.describe} is missing from the data to import; nothing was imported"
                ) from None
        actual = writer.hexdigests()["sha256"]
        if actual != source.sha256 or (source.size is not None and writer.size != source.size):
            raise MaintenanceError(
                f"{source.describe} is damaged: it should have sha256 {source.sha256}"
                + (f" and {source.size} bytes" if source.size is not None else "")
                + f", it has sha256 {actual} and {writer.size} bytes; nothing was imported"
            )
        writer.commit()
        committed = True
    finally:
        if not committed:
            writer.discard()


def _write_rows(store: MetaStore, plan: ImportPlan) -> None:
    with store.write() as tx:
        for user in plan.users:
            if store.get_user(user.name) is None:
                store.add_user(user)
            else:
                store.update_user(user)
        for planned in plan.indexes:
            existing = store.get_index(planned.user, planned.name)
            if existing is None:
                index_id = store.add_index(planned.user, planned.name, planned.config, planned.created).id
            else:
                index_id = existing.id
                store.update_index(index_id, planned.config)
            _write_index(store, planned, index_id, tx.serial)
        for token, secret_hash in plan.tokens:
            store.add_token(token, secret_hash)
        store.set_meta(CONFIG_SERIAL, str(tx.serial))


def _write_index(store: MetaStore, planned: PlannedIndex, index_id: int, serial: int) -> None:
    for release in planned.releases:
        store.put_release(replace(release, index_id=index_id, serial=serial))
    for project, display in planned.projects.items():
        store.touch_project(index_id, project, display, serial)
    paged = {page.project for page in planned.mirror_pages}
    for page in planned.mirror_pages:
        links = [replace(p.file, index_id=index_id) for p in planned.files if p.file.project == page.project]
        store.put_mirror_page(replace(page, index_id=index_id), links)
        if page.status == 200:
            store.touch_project(index_id, page.project, page.display_name, serial)
    for planned_file in planned.files:
        if planned_file.file.project in paged:
            continue
        stored = store.put_file(replace(planned_file.file, id=0, index_id=index_id))
        for result in planned_file.toxresults:
            store.add_toxresult(replace(result, id=0, index_id=index_id, file_id=stored.id))
