"""The project page: every version the index offers, newest first, where each comes from,
and which mirror releases the dependency-confusion rule keeps out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import Index
from idx_server.services.resolve import ResolvedProject
from idx_server.storage import MetaStore
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class VersionRow:
    version: str
    #: The index the version is served from (the first of the resolution order having it).
    origin: str
    origin_is_mirror: bool
    files: int
    #: Every file of the version is yanked.
    yanked: bool
    yanked_reason: str
    upload_time: str
    prerelease: bool


@dataclass(frozen=True)
class BlockedMirror:
    """A mirror left out for this project, and why."""

    mirror: str
    #: The private index whose project of the same name blocks it.
    owner: str
    #: Versions the mirror has in its cache for this name (never fetched for this page).
    cached_versions: tuple[str, ...]


@dataclass(frozen=True)
class ProjectPage:
    index: str
    project: str
    display_name: str
    summary: str
    versions: tuple[VersionRow, ...]
    latest: VersionRow | None
    blocked: tuple[BlockedMirror, ...]
    #: Mirrors whose data is from the cache because upstream could not be reached.
    stale: tuple[str, ...]
    #: The index whose mirror_whitelist would let blocked mirrors through.
    whitelist_index: str


def version_key(version: str) -> tuple[int, Any]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def project_page(resolved: ResolvedProject, store: MetaStore) -> ProjectPage:
    """Build the page from the core's resolution of the project (see ProjectResolver)."""
    rows = _version_rows(resolved, store)
    latest = next((row for row in rows if not row.yanked and not row.prerelease), None) or next(
        (row for row in rows if not row.yanked), rows[0] if rows else None
    )
    display_name, summary = _name_and_summary(resolved, store, latest)
    resolution = resolved.resolution
    owner = resolution.private_owner.full_name if resolution.private_owner else ""
    blocked = tuple(
        BlockedMirror(mirror.full_name, owner, _cached_versions(store, mirror, resolved.project))
        for mirror in resolution.blocked_mirrors
    )
    return ProjectPage(
        index=resolved.index.full_name,
        project=resolved.project,
        display_name=display_name,
        summary=summary,
        versions=tuple(rows),
        latest=latest,
        blocked=blocked,
        stale=resolved.stale,
        whitelist_index=resolved.index.full_name,
    )


def _version_rows(resolved: ResolvedProject, store: MetaStore) -> list[VersionRow]:
    rank = {index_id: position for position, index_id in enumerate(resolved.origins)}
    by_version: dict[str, list[DistFile]] = {}
    for f in resolved.files:
        by_version.setdefault(f.version, []).append(f)
    keyed: list[tuple[tuple[int, Any], VersionRow]] = []
    for version, files in by_version.items():
        origin_id = min((f.index_id for f in files), key=rank.__getitem__)
        origin = resolved.origins[origin_id]
        own = [f for f in files if f.index_id == origin_id]
        yanked = all(f.yanked for f in own)
        key = version_key(version)
        row = VersionRow(
            version=version,
            origin=origin.full_name,
            origin_is_mirror=origin.is_mirror,
            files=len(own),
            yanked=yanked,
            yanked_reason=next((f.yanked_reason for f in own if f.yanked_reason), "") if yanked else "",
            upload_time=max((f.upload_time for f in own), default=""),
            prerelease=key[0] == 1 and key[1].is_prerelease,
        )
        keyed.append((key, row))
    if not keyed:
        keyed = [(version_key(row.version), row) for row in _registered_only(resolved, store)]
    # Versions compare faster among themselves than inside tuples; invalid ones go last.
    valid = sorted((item for item in keyed if item[0][0]), key=lambda item: item[0][1], reverse=True)
    invalid = sorted((item for item in keyed if not item[0][0]), key=lambda item: item[0][1], reverse=True)
    return [row for _key, row in valid + invalid]


def _registered_only(resolved: ResolvedProject, store: MetaStore) -> Iterable[VersionRow]:
    """Versions registered without files (devpi's register), when there are no files at all."""
    seen: set[str] = set()
    for index in resolved.origins.values():
        if index.is_mirror:
            continue
        for release in store.list_releases(index.id, resolved.project):
            if release.version not in seen:
                seen.add(release.version)
                yield VersionRow(
                    release.version, index.full_name, False, 0, False, "", release.created, False
                )


def _name_and_summary(
    resolved: ResolvedProject, store: MetaStore, latest: VersionRow | None
) -> tuple[str, str]:
    if latest is not None and not latest.origin_is_mirror:
        origin = next(ix for ix in resolved.origins.values() if ix.full_name == latest.origin)
        release = store.get_release(origin.id, resolved.project, latest.version)
        if release is not None:
            metadata = release.metadata
            return str(metadata.get("name") or resolved.project), str(metadata.get("summary") or "")
    for index in resolved.origins.values():
        if index.is_mirror:
            page = store.get_mirror_page(index.id, resolved.project)
            if page is not None and page.display_name:
                return page.display_name, ""
    return resolved.project, ""


def _cached_versions(store: MetaStore, mirror: Index, project: str) -> tuple[str, ...]:
    versions = {f.version for f in store.project_files([mirror.id], project) if f.version}
    return tuple(sorted(versions, key=version_key, reverse=True))
