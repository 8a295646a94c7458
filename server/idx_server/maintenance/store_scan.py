"""One consistent read of the whole store, for ``idx-server check``: the rows, which
blobs they use, which blobs exist, and which rows disagree with each other."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import Index
from idx_server.model.users import Release
from idx_server.storage import BlobStore, MetaStore, ToxResult

BlobKind = Literal["file", "core-metadata", "toxresult"]


@dataclass(frozen=True)
class BlobUse:
    """A row that needs a blob."""

    sha256: str
    kind: BlobKind
    subject: str
    file: DistFile | None = None
    result: ToxResult | None = None


@dataclass(frozen=True)
class RowProblem:
    """Rows that disagree with each other, and what would set them right."""

    kind: str
    subject: str
    message: str
    remedy: str = ""
    index_id: int = 0
    project: str = ""
    version: str = ""
    display_name: str = ""
    created: str = ""
    result: ToxResult | None = None


@dataclass
class StoreScan:
    indexes: dict[int, Index]
    users: set[str]
    files: list[DistFile]
    releases: dict[int, list[Release]]
    projects: dict[int, dict[str, str]]
    toxresults: list[ToxResult]
    ids_in_use: set[int]
    present: set[str] = field(default_factory=set)
    uses: dict[str, list[BlobUse]] = field(default_factory=dict)
    hashed: int = 0

    def index_name(self, index_id: int) -> str:
        index = self.indexes.get(index_id)
        return index.full_name if index else f"(deleted index #{index_id})"

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "indexes": len(self.indexes),
            "releases": sum(len(r) for r in self.releases.values()),
            "files": len(self.files),
            "cached_files": sum(1 for f in self.files if f.cached),
            "toxresults": len(self.toxresults),
            "blobs": len(self.present),
        }

    def hash_blob(self, blobs: BlobStore, sha256: str) -> str:
        digest = hashlib.sha256()
        with blobs.open(sha256) as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        self.hashed += 1
        return digest.hexdigest()

    # -- rows against rows ---------------------------------------------------------------------
    def row_problems(self) -> list[RowProblem]:
        found: list[RowProblem] = []
        for index_id in sorted(self.ids_in_use - set(self.indexes)):
            found.append(
                RowProblem(
                    "rows-without-index",
                    f"#{index_id}",
                    f"rows of projects, releases or files refer to index #{index_id}, which does not exist",
                    remedy="delete those rows",
                    index_id=index_id,
                )
            )
        by_index: dict[int, list[DistFile]] = defaultdict(list)
        for f in self.files:
            by_index[f.index_id].append(f)
        for index in self.indexes.values():
            found += self._index_problems(index, by_index.get(index.id, []))
        file_ids = {f.id for f in self.files}
        for result in self.toxresults:
            if result.file_id not in file_ids:
                found.append(
                    RowProblem(
                        "toxresult-without-file",
                        f"{self.index_name(result.index_id)} {result.filename}",
                        f"{self.index_name(result.index_id)}: test result {result.id} belongs to "
                        f"{result.filename}, whose row is gone",
                        remedy="delete the test result",
                        result=result,
                    )
                )
        return found

    def _index_problems(self, index: Index, index_files: list[DistFile]) -> list[RowProblem]:
        found = []
        if index.user not in self.users:
            found.append(
                RowProblem(
                    "index-without-owner",
                    index.full_name,
                    f"index {index.full_name} belongs to user {index.user!r}, who does not exist",
                )
            )
        for base in index.config.bases:
            if not any(ix.full_name == base for ix in self.indexes.values()):
                found.append(
                    RowProblem(
                        "unknown-base",
                        index.full_name,
                        f"index {index.full_name} has the base {base}, which does not exist; "
                        "change its bases (idx index ... bases=...)",
                    )
                )
        if not index.is_mirror:
            found += self._release_problems(index, index_files)
        return found

    def _release_problems(self, index: Index, index_files: list[DistFile]) -> list[RowProblem]:
        name = index.full_name
        files: dict[tuple[str, str], list[DistFile]] = defaultdict(list)
        for f in index_files:
            files[(f.project, f.version)].append(f)
        releases = {(r.project, r.version): r for r in self.releases.get(index.id, [])}
        projects = self.projects.get(index.id, {})
        found = []
        reported: set[str] = set()
        for (project, version), release in sorted(releases.items()):
            if (project, version) not in files:
                found.append(
                    RowProblem(
                        "empty-release",
                        f"{name} {project} {version}",
                        f"{name}: release {project} {version} has no files",
                        remedy="delete the release",
                        index_id=index.id,
                        project=project,
                        version=version,
                    )
                )
            if project not in projects and project not in reported:
                reported.add(project)
                found.append(
                    RowProblem(
                        "release-without-project",
                        f"{name} {project}",
                        f"{name}: release {project} {version} has no project row, so the project "
                        "is not listed",
                        remedy="add the project row",
                        index_id=index.id,
                        project=project,
                        display_name=str(release.metadata.get("name") or project),
                    )
                )
        for (project, version), release_files in sorted(files.items()):
            if (project, version) not in releases:
                found.append(
                    RowProblem(
                        "file-without-release",
                        f"{name} {project} {version}",
                        f"{name}: {', '.join(f.filename for f in release_files)} "
                        f"belong to release {project} {version}, which has no row",
                        remedy="add a release row (with only name and version as metadata)",
                        index_id=index.id,
                        project=project,
                        version=version,
                        created=min(f.upload_time for f in release_files),
                    )
                )
        with_rows = {project for project, _ in releases} | {project for project, _ in files}
        for project in sorted(set(projects) - with_rows):
            found.append(
                RowProblem(
                    "project-without-releases",
                    f"{name} {project}",
                    f"{name}: project {project} has no releases",
                    remedy="delete the project row",
                    index_id=index.id,
                    project=project,
                )
            )
        return found


def scan_store(store: MetaStore, blobs: BlobStore) -> StoreScan:
    """Read every row in one snapshot, then list the blobs (a blob committed after the
    snapshot looks unreferenced; the grace period covers that)."""
    with store.read():
        indexes = {ix.id: ix for ix in store.list_indexes()}
        scan = StoreScan(
            indexes=indexes,
            users={u.name for u in store.list_users()},
            files=list(store.iter_files()),
            releases={ix_id: list(store.iter_releases(ix_id)) for ix_id in indexes},
            projects={ix_id: dict(store.project_names(ix_id)) for ix_id in indexes},
            toxresults=list(store.iter_toxresults()),
            ids_in_use=store.index_ids_in_use(),
        )
    uses: dict[str, list[BlobUse]] = defaultdict(list)
    by_id = {f.id: f for f in scan.files}
    for f in scan.files:
        subject = f"{scan.index_name(f.index_id)} {f.filename}"
        if f.cached and f.sha256:
            uses[f.sha256].append(BlobUse(f.sha256, "file", subject, file=f))
        if f.core_metadata_sha256:
            uses[f.core_metadata_sha256].append(
                BlobUse(f.core_metadata_sha256, "core-metadata", subject, file=f)
            )
    for result in scan.toxresults:
        subject = f"{scan.index_name(result.index_id)} {result.filename} (test result {result.id})"
        uses[result.sha256].append(
            BlobUse(result.sha256, "toxresult", subject, file=by_id.get(result.file_id), result=result)
        )
    scan.uses = dict(uses)
    scan.present = set(blobs.iter_all())
    return scan
