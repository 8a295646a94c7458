"""Uploads through the legacy API (``:action=file_upload``), validated as PyPI does.

The order of work keeps a refused upload from leaving anything behind: the bytes
land in a temp file (hashed while they stream), every check runs against it, then
the blob is made durable (fsync + rename) and only then is the row committed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
from packaging.version import InvalidVersion, Version

from idx_server.events import Event, EventDispatcher, file_ref
from idx_server.model.distfiles import DistFile, DistFilename, parse_dist_filename, release_filename_matches
from idx_server.model.errors import Conflict, InvalidUpload, MethodNotAllowed
from idx_server.model.indexes import Index
from idx_server.model.metadata import ParsedMetadata, devpi_fields, form_fields_to_raw, parse_core_metadata
from idx_server.model.names import project_name
from idx_server.model.uploads import UploadCandidate
from idx_server.model.users import Release
from idx_server.services.archives import read_metadata
from idx_server.services.clock import now_iso
from idx_server.services.upload_form import ReceivedForm
from idx_server.storage import BlobStore, BlobWriter, MetaStore

log = logging.getLogger("idx.upload")

_DIGEST_FIELDS = (("sha256_digest", "sha256"), ("blake2_256_digest", "blake2_256"), ("md5_digest", "md5"))


@dataclass(frozen=True)
class UploadResult:
    file: DistFile
    #: False when an identical file was already there (nothing changed).
    stored: bool
    warnings: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        lines = [
            f"{self.file.filename} uploaded"
            if self.stored
            else f"{self.file.filename}: identical file already present"
        ]
        return "\n".join([*lines, *self.warnings])


def check_index_accepts_uploads(index: Index) -> None:
    reason = index.readonly_reason
    if reason:
        raise MethodNotAllowed(reason)
    if not index.accepts_uploads:
        raise MethodNotAllowed(
            f"index {index.full_name} is a {index.type} index and does not take uploads; "
            "upload to a stage index (e.g. one whose bases include it)"
        )


class UploadService:
    def __init__(
        self, store: MetaStore, blobs: BlobStore, pm: pluggy.PluginManager, events: EventDispatcher
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.pm = pm
        self.events = events

    def new_writer(self, fields: dict[str, list[str]]) -> BlobWriter:
        """Where an incoming file is written while it streams in; besides sha256 it
        computes the digests the client sent (twine sends its fields before the file)."""
        sent = [algorithm for field, algorithm in _DIGEST_FIELDS if fields.get(field)]
        return self.blobs.writer(["sha256", *sent])

    def upload(self, index: Index, form: ReceivedForm, user: str, file_url: str) -> UploadResult:
        """Validate and store the file in ``form``. ``form``'s temp file is always consumed."""
        try:
            return self._upload(index, form, user, file_url)
        finally:
            form.discard()

    def _upload(self, index: Index, form: ReceivedForm, user: str, file_url: str) -> UploadResult:
        check_index_accepts_uploads(index)
        _check_protocol(form)
        writer = form.blob
        if writer is None or form.filename is None:
            raise InvalidUpload("Upload payload does not have a file: send it in the 'content' field")
        if writer.size == 0:
            raise InvalidUpload(f"Invalid distribution file {form.filename!r}: it is empty")
        dist = parse_dist_filename(form.filename)
        project, version = _form_release(form, dist)
        release_filename_matches(dist, project, version)
        path = writer.temp_path
        assert path is not None
        _flush(writer)
        digests = _complete_digests(form, writer.hexdigests(), path)
        _check_digests(form, digests, dist.filename)
        archive = read_metadata(path, dist)
        metadata = self._metadata(archive.data, archive.member, form, dist)
        attestations = _attestations(form)
        self.pm.hook.idx_validate_upload(
            candidate=UploadCandidate(
                index=index.full_name,
                project=project,
                version=str(version),
                filename=dist.filename,
                kind=dist.kind,
                sha256=digests["sha256"],
                size=writer.size,
                user=user,
                metadata=metadata.fields,
                path=str(path),
            )
        )

        existing = self.store.get_file(index.id, dist.filename)
        if existing is not None and existing.sha256 == digests["sha256"]:
            return UploadResult(existing, stored=False)
        if existing is not None and not index.config.volatile:
            raise Conflict(
                f"File already exists: {dist.filename} is on {index.full_name} with other content "
                f"(sha256 {existing.sha256}), and the index is not volatile. Upload a new version instead."
            )

        sha256 = writer.commit()
        form.blob = None
        core_sha = self.blobs.put_bytes(archive.data) if dist.is_wheel and archive.data is not None else ""
        now = now_iso()
        new_file = DistFile(
            index_id=index.id,
            project=project,
            version=str(version),
            filename=dist.filename,
            path_key=sha256,
            sha256=sha256,
            size=writer.size,
            upload_time=now,
            hashes={name: value for name, value in digests.items() if name != "sha256"},
            uploader=user,
            requires_python=metadata.requires_python,
            core_metadata_sha256=core_sha,
            log=(
                {
                    "what": "overwrite" if existing else "upload",
                    "who": user,
                    "when": now,
                    "dst": index.full_name,
                },
            ),
            attestations=attestations,
        )
        try:
            stored = self._commit(index, new_file, metadata, existing, file_url)
        except BaseException:
            self._drop_if_unused([sha256, core_sha])
            raise
        return UploadResult(stored, stored=True, warnings=metadata.warnings)

    def _metadata(
        self, data: bytes | None, member: str, form: ReceivedForm, dist: DistFilename
    ) -> ParsedMetadata:
        if data is None:
            raw = form_fields_to_raw(form.fields)
            raw.setdefault("name", dist.project)
            raw.setdefault("version", str(dist.version))
            raw.setdefault("metadata_version", form.first("metadata_version") or "1.0")
            return ParsedMetadata(devpi_fields(raw))
        metadata = parse_core_metadata(data, member)
        if project_name(metadata.name) != dist.project:
            raise InvalidUpload(
                f"{member} says the project is {metadata.name!r}, but the filename is for {dist.project!r}"
            )
        try:
            same_version = Version(metadata.version) == dist.version
        except InvalidVersion:
            same_version = False
        if not same_version:
            raise InvalidUpload(
                f"{member} says the version is {metadata.version!r}, but the filename has {dist.version}"
            )
        return metadata

    def _commit(
        self,
        index: Index,
        new_file: DistFile,
        metadata: ParsedMetadata,
        existing: DistFile | None,
        file_url: str,
    ) -> DistFile:
        with self.store.write() as tx:
            stored = self.store.put_file(new_file)
            release = self.store.get_release(index.id, new_file.project, new_file.version)
            fields = _merge_metadata(release.metadata if release else {}, metadata.fields, new_file)
            self.store.put_release(
                Release(
                    index.id,
                    new_file.project,
                    new_file.version,
                    fields,
                    release.created if release else new_file.upload_time,
                    tx.serial,
                )
            )
            self.store.touch_project(index.id, new_file.project, metadata.name, tx.serial)
            replaced = [existing.sha256, existing.core_metadata_sha256] if existing else []
            event = Event(
                "release_uploaded",
                tx.serial,
                new_file.upload_time,
                index=index.full_name,
                project=new_file.project,
                version=new_file.version,
                user=new_file.uploader,
                files=(file_ref(index.full_name, stored, file_url),),
            )
            tx.after_commit(lambda: self._drop_if_unused(replaced))
            tx.after_commit(lambda: self.events.emit(event))
        return stored

    def _drop_if_unused(self, shas: Iterable[str]) -> None:
        for sha in shas:
            if sha and not self.store.blob_in_use(sha):
                self.blobs.delete(sha)


def _flush(writer: Any) -> None:
    flush = getattr(writer, "flush", None)
    if flush is not None:
        flush()


def _check_protocol(form: ReceivedForm) -> None:
    action = form.first(":action")
    if action and action != "file_upload":
        raise InvalidUpload(
            f"Unsupported :action {action!r}: only 'file_upload' is supported (documentation uploads are not)"
        )
    protocol = form.first("protocol_version")
    if protocol and protocol != "1":
        raise InvalidUpload(f"Unknown protocol_version {protocol!r}: only 1 is supported")


def _form_release(form: ReceivedForm, dist: DistFilename) -> tuple[str, Version]:
    """The project and version the form names (falling back to the filename's)."""
    name = form.first("name") or dist.project
    project = project_name(name)
    raw_version = form.first("version") or str(dist.version)
    try:
        version = Version(raw_version)
    except InvalidVersion:
        raise InvalidUpload(
            f"Invalid version {raw_version!r}: see https://packaging.python.org/en/latest/specifications/version-specifiers/"
        ) from None
    return project, version


def _complete_digests(form: ReceivedForm, digests: dict[str, str], path: Path) -> dict[str, str]:
    """The digests the client sent, computed; those sent after the file (unusual) are
    computed now from the temp file."""
    missing = [alg for field, alg in _DIGEST_FIELDS if form.first(field).strip() and alg not in digests]
    if not missing:
        return digests
    hashers = {alg: _hasher_for(alg) for alg in missing}
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {**digests, **{alg: hasher.hexdigest() for alg, hasher in hashers.items()}}


def _hasher_for(algorithm: str) -> Any:
    import hashlib

    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "blake2_256":
        return hashlib.blake2b(digest_size=32)
    return hashlib.new(algorithm)


def _check_digests(form: ReceivedForm, digests: dict[str, str], filename: str) -> None:
    for field_name, algorithm in _DIGEST_FIELDS:
        given = form.first(field_name).strip()
        if not given:
            continue
        expected = digests[algorithm]
        if given.lower() != expected and _urlsafe_b64_to_hex(given) != expected:
            raise InvalidUpload(
                f"The {algorithm} digest sent for {filename} does not match the file's content "
                f"(sent {given}, file has {expected}); the file was damaged on the way, try again"
            )


def _urlsafe_b64_to_hex(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except (binascii.Error, ValueError):
        return ""


def _attestations(form: ReceivedForm) -> str:
    text = form.first("attestations").strip()
    if not text:
        return ""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidUpload("Invalid attestations: the 'attestations' field is not JSON") from None
    if not isinstance(value, list):
        raise InvalidUpload("Invalid attestations: expected a JSON list of attestation objects")
    return text


def _merge_metadata(old: dict[str, Any], new: dict[str, Any], file: DistFile) -> dict[str, Any]:
    """A release's metadata after another file: the newest file's metadata wins."""
    merged = dict(old)
    merged.update(new)
    merged["name"] = new.get("name") or old.get("name") or file.project
    merged["version"] = file.version
    return merged
