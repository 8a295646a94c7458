"""The files of a devpi-export dump: release files (with their upload logs), test
results, and which releases they make; each file hashed and checked against the
hashes devpi recorded for it."""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.version import InvalidVersion, Version

from idx_server.maintenance import MaintenanceError
from idx_server.maintenance.plan import BlobSource, ImportPlan, PlannedFile, PlannedIndex
from idx_server.model.distfiles import DistFile, check_safe_filename, parse_dist_filename
from idx_server.model.errors import IdxError, InvalidInput
from idx_server.model.names import project_name
from idx_server.model.users import Release
from idx_server.services.archives import read_metadata
from idx_server.storage import MirrorPage, ToxResult

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Hash names devpi may record that hashlib computes the same way.
_CHECKABLE = frozenset({"sha256", "md5", "sha1", "sha224", "sha384", "sha512", "blake2b", "blake2s"})


class DevpiFiles:
    """Adds the files of each index of a dump to the plan."""

    def __init__(self, dump: Path, plan: ImportPlan) -> None:
        self.dump = dump
        self.plan = plan
        self.docs_left_out = 0
        self.versions_left_out = 0

    def add_index(self, planned: PlannedIndex, item: dict[str, Any], legacy: bool) -> None:
        if "projects" not in item and not item.get("files"):
            return  # a mirror exported without its files
        projects = merged_projects(item.get("projects") or {})
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for desc in item.get("files") or []:
            if not isinstance(desc, dict) or not isinstance(desc.get("relpath"), str):
                raise MaintenanceError(f"index {planned.full_name}: a file entry has no 'relpath'")
            by_type[str(desc.get("type"))].append(desc)
        self.docs_left_out += len(by_type.pop("doczip", []))
        files: dict[str, PlannedFile] = {}
        for desc in by_type.pop("releasefile", []):
            planned_file = self._release_file(planned, desc, projects, legacy)
            if planned_file.file.filename in files:
                raise MaintenanceError(
                    f"index {planned.full_name}: {planned_file.file.filename} is in it twice"
                )
            files[planned_file.file.filename] = planned_file
        for desc in by_type.pop("toxresult", []):
            self._toxresult(planned, desc, files)
        for kind, descs in by_type.items():
            raise MaintenanceError(
                f"index {planned.full_name}: unknown file type {kind!r} ({descs[0]['relpath']})"
            )
        planned.files = list(files.values())
        if _is_mirror(planned):
            self._mirror_pages(planned, projects)
        else:
            self._releases(planned, projects)

    def finish(self) -> None:
        if self.docs_left_out:
            self.plan.notes.append(
                f"{self.docs_left_out} documentation zips left out: idx does not host documentation"
            )
        if self.versions_left_out:
            self.plan.notes.append(
                f"{self.versions_left_out} releases without files left out "
                "(idx keeps releases by their files)"
            )

    # -- release files ---------------------------------------------------------------------------
    def _release_file(
        self, planned: PlannedIndex, desc: dict[str, Any], projects: dict[str, Any], legacy: bool
    ) -> PlannedFile:
        relpath = desc["relpath"]
        path = self._path(relpath)
        filename = path.name
        try:
            check_safe_filename(filename)
            project = project_name(str(desc.get("projectname", "")))
        except IdxError as exc:
            raise MaintenanceError(f"{relpath}: {exc.message}") from None
        version = str(desc.get("version") or "") or (_version_from_filename(filename) if legacy else "")
        if not version:
            raise MaintenanceError(f"{relpath}: the dump does not say which version it belongs to")
        mapping = desc.get("entrymapping") or {}
        digests, size = _verified_hashes(path, relpath, _recorded_hashes(mapping))
        sha256 = digests["sha256"]
        self.plan.blobs.setdefault(sha256, BlobSource(sha256, relpath, path=path, size=size))
        log = tuple(_log_entry(e) for e in desc.get("log") or [] if isinstance(e, dict))
        metadata = projects.get(project, {}).get(version) or {}
        yanked = metadata.get("yanked")
        is_mirror = _is_mirror(planned)
        file = DistFile(
            index_id=0,
            project=project,
            version=_normalized_version(version),
            filename=filename,
            path_key=sha256,
            sha256=sha256,
            size=size,
            upload_time=_upload_time(mapping, log),
            hashes={"md5": digests["md5"], "blake2_256": digests["blake2_256"]},
            uploader=_uploader(log),
            yanked=bool(yanked),
            yanked_reason=yanked if isinstance(yanked, str) else "",
            requires_python=str(metadata.get("requires_python") or ""),
            core_metadata_sha256="" if is_mirror else self._core_metadata(path, filename),
            url=str(mapping.get("url") or "") if is_mirror else "",
            log=log,
        )
        return PlannedFile(file)

    def _path(self, relpath: str) -> Path:
        parts = PurePosixPath(relpath).parts
        if not parts or ".." in parts or PurePosixPath(relpath).is_absolute():
            raise MaintenanceError(f"{relpath}: a path outside the dump; the dump is damaged")
        path = self.dump.joinpath(*parts)
        if not path.is_file():
            raise MaintenanceError(f"{relpath} is missing from the dump in {self.dump}; nothing was imported")
        return path

    def _core_metadata(self, path: Path, filename: str) -> str:
        """Extract a wheel's METADATA, so idx serves it (PEP 658) as for its own uploads."""
        if not filename.endswith(".whl"):
            return ""
        try:
            data = _wheel_metadata(path, filename)
        except IdxError as exc:
            self.plan.notes.append(f"{filename}: no core metadata served ({exc.message})")
            return ""
        if data is None:
            return ""
        sha = hashlib.sha256(data).hexdigest()
        make = functools.partial(_wheel_metadata_bytes, path, filename)
        self.plan.blobs.setdefault(sha, BlobSource(sha, f"{filename} METADATA", make=make, size=len(data)))
        return sha

    # -- test results ----------------------------------------------------------------------------
    def _toxresult(self, planned: PlannedIndex, desc: dict[str, Any], files: dict[str, PlannedFile]) -> None:
        relpath = desc["relpath"]
        path = self._path(relpath)
        for_name = PurePosixPath(str(desc.get("for_entrypath") or "")).name
        target = files.get(for_name)
        if target is None:
            raise MaintenanceError(
                f"{relpath}: a test result of {for_name or '(no file named)'}, which is not in "
                f"index {planned.full_name} of the dump; the dump is damaged"
            )
        mapping = desc.get("entrymapping") or {}
        recorded = _recorded_hashes(mapping)
        # devpi-server 6.5 to 6.8 recorded the tested file's hash for its test results.
        linked = PurePosixPath(relpath).parts[-2] if len(PurePosixPath(relpath).parts) >= 2 else ""
        if linked.startswith("sha256=") and recorded.get("sha256") == linked.removeprefix("sha256="):
            recorded = {}
        digests, size = _verified_hashes(path, relpath, recorded)
        sha256 = digests["sha256"]
        self.plan.blobs.setdefault(sha256, BlobSource(sha256, relpath, path=path, size=size))
        log = [_log_entry(e) for e in desc.get("log") or [] if isinstance(e, dict)]
        created = _upload_time(mapping, tuple(log))
        uploader = str(log[0].get("who") or "") if log else ""
        target.toxresults.append(ToxResult(0, 0, 0, target.file.filename, sha256, created, uploader))

    # -- releases and mirror pages ---------------------------------------------------------------
    def _releases(self, planned: PlannedIndex, projects: dict[str, dict[str, dict[str, Any]]]) -> None:
        with_files: dict[tuple[str, str], list[DistFile]] = defaultdict(list)
        for planned_file in planned.files:
            f = planned_file.file
            with_files[(f.project, f.version)].append(f)
        for project, versions in projects.items():
            for version in versions:
                if (project, _normalized_version(version)) not in with_files:
                    self.versions_left_out += 1
        for (project, version), files in sorted(with_files.items()):
            versions = projects.get(project, {})
            raw = next((m for v, m in versions.items() if _normalized_version(v) == version), {})
            metadata = {k: v for k, v in raw.items() if not k.startswith(("+", ":"))}
            metadata.setdefault("name", project)
            metadata["version"] = version
            created = min(f.upload_time for f in files)
            planned.releases.append(Release(0, project, version, metadata, created))
            planned.projects.setdefault(project, str(metadata["name"]))

    def _mirror_pages(self, planned: PlannedIndex, projects: dict[str, dict[str, dict[str, Any]]]) -> None:
        by_project: dict[str, list[DistFile]] = defaultdict(list)
        for planned_file in planned.files:
            by_project[planned_file.file.project].append(planned_file.file)
        for project, files in sorted(by_project.items()):
            versions = projects.get(project, {})
            display = next((str(m.get("name")) for m in versions.values() if m.get("name")), project)
            # checked_at 0: the first request revalidates the page upstream (or serves it
            # as stale when upstream cannot be reached).
            planned.mirror_pages.append(
                MirrorPage(
                    0, project, 200, display_name=display, versions=tuple(sorted({f.version for f in files}))
                )
            )


# -- helpers -----------------------------------------------------------------------------------
def merged_projects(projects: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """devpi's projects by normalized name (old dumps may spell one project several ways)."""
    if not isinstance(projects, dict):
        raise MaintenanceError("'projects' must be an object of project names")
    merged: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for name, versions in projects.items():
        if not isinstance(versions, dict) or not all(isinstance(v, dict) for v in versions.values()):
            raise MaintenanceError(f"project {name!r} must be an object of versions and their metadata")
        try:
            merged[project_name(name)].update(versions)
        except InvalidInput as exc:
            raise MaintenanceError(exc.message) from None
    return dict(merged)


def _is_mirror(planned: PlannedIndex) -> bool:
    return "mirror_url" in planned.config


def _recorded_hashes(mapping: dict[str, Any]) -> dict[str, str]:
    recorded = {str(k): str(v) for k, v in (mapping.get("hashes") or {}).items()}
    if mapping.get("md5"):  # devpi-server 2.x
        recorded.setdefault("md5", str(mapping["md5"]))
    name, _, value = str(mapping.get("hash_spec") or "").partition("=")
    if name and value:
        recorded.setdefault(name, value)
    return recorded


def _verified_hashes(path: Path, relpath: str, recorded: dict[str, str]) -> tuple[dict[str, str], int]:
    hashers: dict[str, Any] = {name: hashlib.new(name) for name in ("sha256", "md5")}
    hashers["blake2_256"] = hashlib.blake2b(digest_size=32)
    for name in recorded:
        if name in _CHECKABLE and name not in hashers:
            hashers[name] = hashlib.new(name)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
    for name, value in recorded.items():
        if name in digests and digests[name] != value.lower():
            raise MaintenanceError(
                f"{relpath} is damaged: its {name} is {digests[name]}, the dump recorded {value}; "
                "nothing was imported"
            )
    return digests, size


def _log_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A devpi log entry with its ``when`` (``[y, m, d, H, M, S]``) as idx's ISO time."""
    converted = dict(entry)
    when = entry.get("when")
    if isinstance(when, list | tuple) and len(when) >= 6:
        try:
            year, month, day, hour, minute, second = (int(part) for part in when[:6])
            converted["when"] = datetime(year, month, day, hour, minute, second, tzinfo=UTC).strftime(ISO)
        except (TypeError, ValueError):
            return converted  # kept as devpi wrote it
    return converted


def _wheel_metadata(path: Path, filename: str) -> bytes | None:
    return read_metadata(path, parse_dist_filename(filename)).data


def _wheel_metadata_bytes(path: Path, filename: str) -> bytes:
    return _wheel_metadata(path, filename) or b""


def _uploader(log: tuple[dict[str, Any], ...]) -> str:
    return next((str(e.get("who") or "") for e in log if e.get("what") in ("upload", "overwrite")), "")


def _upload_time(mapping: dict[str, Any], log: tuple[dict[str, Any], ...]) -> str:
    last_modified = mapping.get("last_modified")
    if isinstance(last_modified, str) and last_modified:
        try:
            return parsedate_to_datetime(last_modified).astimezone(UTC).strftime(ISO)
        except (TypeError, ValueError):
            pass
    for entry in log:
        if isinstance(entry.get("when"), str):
            return str(entry["when"])
    return ""


def _normalized_version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _version_from_filename(filename: str) -> str:
    try:
        return str(parse_dist_filename(filename).version)
    except IdxError:
        return ""
