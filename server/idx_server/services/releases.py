"""Releases as devpi's JSON API shows them, and what can be done to them: delete, yank."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from packaging.version import InvalidVersion, Version

from idx_server.events import Event, EventDispatcher, file_ref
from idx_server.model.distfiles import DistFile
from idx_server.model.errors import Forbidden, InvalidInput, NotFound
from idx_server.model.indexes import Index
from idx_server.model.users import Release
from idx_server.services.clock import devpi_when, now_iso
from idx_server.services.resolve import ProjectResolver, ResolvedProject
from idx_server.storage import BlobStore, MetaStore, ToxResult

#: Builds the absolute URL of a path under an index: (index full name, relpath) -> URL.
UrlFor = Callable[[str, str], str]


def normalize_version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        raise NotFound(f"version {version!r} is not a valid version") from None


def toxresult_relpath(file: DistFile, result: ToxResult) -> str:
    return f"{file.relpath}.toxresult-{result.id}"


class ReleaseService:
    def __init__(
        self, store: MetaStore, blobs: BlobStore, resolver: ProjectResolver, events: EventDispatcher
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.resolver = resolver
        self.events = events

    # -- reading -------------------------------------------------------------------------
    def project_versions(
        self, index: Index, project: str, url_for: UrlFor, ignore_bases: bool = False
    ) -> dict[str, dict[str, Any]]:
        """devpi's ``projectconfig``: ``{version: versiondata}`` over the resolution order."""
        resolved = self.resolver.resolve(index, project, ignore_bases=ignore_bases)
        if not resolved.exists:
            raise NotFound(f"project {project!r} is not on index {index.full_name} or its bases")
        return self._versions(resolved, url_for)

    def version_data(self, index: Index, project: str, version: str, url_for: UrlFor) -> dict[str, Any]:
        versions = self.project_versions(index, project, url_for)
        wanted = normalize_version(version)
        for key, data in versions.items():
            if key == wanted or _same_version(key, wanted):
                return data
        raise NotFound(f"version {version} of {project!r} is not on index {index.full_name} or its bases")

    def _versions(self, resolved: ResolvedProject, url_for: UrlFor) -> dict[str, dict[str, Any]]:
        by_origin: dict[tuple[int, str], list[DistFile]] = {}
        for f in (*resolved.files, *resolved.shadowed):
            by_origin.setdefault((f.index_id, f.version), []).append(f)
        releases: dict[tuple[int, str], Release] = {}
        for ix in resolved.origins.values():
            if not ix.is_mirror:
                for release in self.store.list_releases(ix.id, resolved.project):
                    releases[(ix.id, release.version)] = release
        results = self.store.toxresults_for(f.id for f in resolved.files)
        tox_by_file: dict[int, list[ToxResult]] = {}
        for result in results:
            tox_by_file.setdefault(result.file_id, []).append(result)
        order = list(resolved.origins)
        versions: dict[str, dict[str, Any]] = {}
        keys = set(by_origin) | set(releases)
        for index_id, version in sorted(keys, key=lambda k: order.index(k[0])):
            origin = resolved.origins[index_id]
            found = releases.get((index_id, version))
            files = sorted(by_origin.get((index_id, version), []), key=lambda f: f.filename)
            data: dict[str, Any] = (
                dict(found.metadata) if found else {"name": resolved.project, "version": version}
            )
            data["+links"] = [
                link
                for f in files
                for link in _links(f, origin.full_name, url_for, tox_by_file.get(f.id, []))
            ]
            if version in versions:
                versions[version].setdefault("+shadowing", []).append(data)
            else:
                versions[version] = data
        return dict(sorted(versions.items(), key=lambda item: _version_sort_key(item[0]), reverse=True))

    def release_files(self, index: Index, project: str, version: str) -> list[DistFile]:
        return self.store.release_files(index.id, project, normalize_version(version))

    # -- deleting ------------------------------------------------------------------------
    def _check_deletable(self, index: Index, force: bool) -> None:
        if index.readonly_reason:
            raise Forbidden(index.readonly_reason)
        if not index.config.volatile and not index.is_mirror and not force:
            raise Forbidden(
                f"index {index.full_name} is not volatile: its releases cannot be deleted "
                "(yank them instead, or have the owner or root delete with ?force)"
            )

    def delete_project(self, index: Index, project: str, user: str, force: bool = False) -> None:
        self._check_deletable(index, force)
        with self.store.write() as tx:
            if not self.store.indexes_with_project([index.id], project):
                raise NotFound(f"project {project!r} is not on index {index.full_name}")
            files = self.store.project_files([index.id], project)
            if index.is_mirror:
                orphans = self._uncache(files)
                self.store.touch_project(index.id, project, "", tx.serial)
            else:
                orphans = self.store.delete_project(index.id, project)
            self._after_delete(tx, index, project, "", user, files, orphans)

    def delete_release(
        self, index: Index, project: str, version: str, user: str, force: bool = False
    ) -> None:
        self._check_deletable(index, force)
        version = normalize_version(version)
        with self.store.write() as tx:
            files = self.store.release_files(index.id, project, version)
            if index.is_mirror:
                if not files:
                    raise NotFound(f"version {version} of {project!r} is not on index {index.full_name}")
                orphans = self._uncache(files)
                self.store.touch_project(index.id, project, "", tx.serial)
            else:
                if self.store.get_release(index.id, project, version) is None:
                    raise NotFound(f"version {version} of {project!r} is not on index {index.full_name}")
                orphans = self.store.delete_release(index.id, project, version)
                self._touch_or_drop_project(index, project, tx.serial)
            self._after_delete(tx, index, project, version, user, files, orphans)

    def delete_file(self, index: Index, file: DistFile, user: str, force: bool = False) -> None:
        self._check_deletable(index, force)
        with self.store.write() as tx:
            if index.is_mirror:
                orphans = self._uncache([file])
                self.store.touch_project(index.id, file.project, "", tx.serial)
            else:
                orphans = self.store.delete_file(file.id)
                if not self.store.release_files(index.id, file.project, file.version):
                    self.store.delete_release(index.id, file.project, file.version)
                self._touch_or_drop_project(index, file.project, tx.serial)
            self._after_delete(tx, index, file.project, file.version, user, [file], orphans)

    def _uncache(self, files: Iterable[DistFile]) -> list[str]:
        shas = []
        for f in files:
            if f.cached and f.url:
                self.store.uncache_file(f.id)
                shas.append(f.sha256)
        return shas

    def _touch_or_drop_project(self, index: Index, project: str, serial: int) -> None:
        if self.store.list_releases(index.id, project):
            self.store.touch_project(index.id, project, "", serial)
        else:
            self.store.delete_project(index.id, project)

    def _after_delete(
        self,
        tx: Any,
        index: Index,
        project: str,
        version: str,
        user: str,
        files: list[DistFile],
        orphans: list[str],
    ) -> None:
        event = Event(
            "release_deleted",
            tx.serial,
            now_iso(),
            index=index.full_name,
            project=project,
            version=version,
            user=user,
            files=tuple(file_ref(index.full_name, f) for f in files),
        )
        tx.after_commit(lambda: self._drop_unused(orphans))
        tx.after_commit(lambda: self.events.emit(event))

    def _drop_unused(self, shas: Iterable[str]) -> None:
        for sha in shas:
            if sha and not self.store.blob_in_use(sha):
                self.blobs.delete(sha)

    # -- yanking -------------------------------------------------------------------------
    def set_yanked(
        self, index: Index, project: str, version: str, yanked: bool, reason: str, user: str
    ) -> int:
        """Yank (PEP 592) or unyank every file of a release; returns how many files."""
        if index.readonly_reason:
            raise Forbidden(index.readonly_reason)
        if index.is_mirror:
            raise InvalidInput(f"index {index.full_name} is a mirror: its yanks come from upstream")
        if len(reason) > 1000:
            raise InvalidInput("reason: keep it under 1000 characters")
        version = normalize_version(version)
        with self.store.write() as tx:
            if self.store.get_release(index.id, project, version) is None:
                raise NotFound(f"version {version} of {project!r} is not on index {index.full_name}")
            count = self.store.set_yanked(index.id, project, version, yanked, reason)
            self.store.touch_project(index.id, project, "", tx.serial)
            event = Event(
                "release_yanked",
                tx.serial,
                now_iso(),
                index=index.full_name,
                project=project,
                version=version,
                user=user,
                files=tuple(
                    file_ref(index.full_name, f) for f in self.store.release_files(index.id, project, version)
                ),
                payload={"yanked": yanked, "reason": reason if yanked else ""},
            )
            tx.after_commit(lambda: self.events.emit(event))
        return count


def _links(file: DistFile, origin: str, url_for: UrlFor, toxresults: list[ToxResult]) -> list[dict[str, Any]]:
    href = url_for(origin, file.relpath)
    link: dict[str, Any] = {
        "rel": "releasefile",
        "href": href,
        "hashes": file.public_hashes,
        "hash_spec": f"sha256={file.sha256}" if file.sha256 else "",
        "log": [_devpi_log(entry) for entry in file.log],
        "size": file.size,
        "upload_time": file.upload_time,
        "yanked": file.yanked_reason or True if file.yanked else False,
    }
    if file.requires_python:
        link["requires_python"] = file.requires_python
    links = [link]
    for result in toxresults:
        links.append(
            {
                "rel": "toxresult",
                "href": url_for(origin, toxresult_relpath(file, result)),
                "for_href": href,
                "hashes": {"sha256": result.sha256},
                "hash_spec": f"sha256={result.sha256}",
                "log": [
                    {"what": "upload", "who": result.uploader or None, "when": devpi_when(result.created)}
                ],
            }
        )
    return links


def _devpi_log(entry: dict[str, Any]) -> dict[str, Any]:
    data = dict(entry)
    if isinstance(data.get("when"), str):
        data["when"] = devpi_when(data["when"])
    return data


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _version_sort_key(version: str) -> tuple[int, Any]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
