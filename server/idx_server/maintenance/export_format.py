"""The idx export format, version 1, in one place: a directory holding

``idx-export.json``
    ``{"format": "idx-export", "version": 1, "users": [...], "tokens": [...],
    "indexes": [...], "blobs": {sha256: size}, ...}``
``blobs/{sha256[:2]}/{sha256}``
    The bytes of every file, core metadata file and test result, once each.

Rows are written as JSON objects named like the fields of the storage values
(:class:`~idx_server.model.users.User`, :class:`~idx_server.model.distfiles.DistFile`,
...), without the ids of one particular store.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any

from idx_server.maintenance import MaintenanceError
from idx_server.model.distfiles import DistFile
from idx_server.model.users import Release, User
from idx_server.storage import MirrorPage, Token, ToxResult

FORMAT = "idx-export"
VERSION = 1
INDEX_FILE = "idx-export.json"
BLOB_DIR = "blobs"


def blob_path(root: Path, sha256: str) -> Path:
    return root / BLOB_DIR / sha256[:2] / sha256


# -- to JSON -----------------------------------------------------------------------------------
def user_json(user: User) -> dict[str, Any]:
    return asdict(user)


def token_json(token: Token, secret_hash: str) -> dict[str, Any]:
    data = asdict(token)
    del data["id"]
    data["secret_hash"] = secret_hash
    return data


def release_json(release: Release) -> dict[str, Any]:
    return {
        "project": release.project,
        "version": release.version,
        "metadata": release.metadata,
        "created": release.created,
    }


def file_json(file: DistFile, toxresults: list[ToxResult]) -> dict[str, Any]:
    data = asdict(file)
    del data["id"], data["index_id"]
    data["log"] = list(file.log)
    data["toxresults"] = [
        {"sha256": r.sha256, "created": r.created, "uploader": r.uploader} for r in toxresults
    ]
    return data


def mirror_page_json(page: MirrorPage) -> dict[str, Any]:
    data = asdict(page)
    del data["index_id"]
    data["versions"] = list(page.versions)
    return data


# -- from JSON ---------------------------------------------------------------------------------
def _pick(cls: type, data: Any, where: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of ``cls`` found in ``data``; missing required ones are an error."""
    if not isinstance(data, dict):
        raise MaintenanceError(f"{where}: expected a JSON object, got {type(data).__name__}")
    picked = {}
    for f in fields(cls):
        if f.name in skip:
            continue
        if f.name in data:
            picked[f.name] = data[f.name]
        elif f.default is MISSING and f.default_factory is MISSING:
            raise MaintenanceError(f"{where}: the key {f.name!r} is missing")
    return picked


def user_from_json(data: Any, where: str) -> User:
    return User(**_pick(User, data, where))


def token_from_json(data: Any, where: str) -> tuple[Token, str]:
    picked = _pick(Token, data, where, skip=("id",))
    secret_hash = data.get("secret_hash")
    if not isinstance(secret_hash, str) or not secret_hash:
        raise MaintenanceError(f"{where}: the key 'secret_hash' is missing")
    return Token(id=0, **picked), secret_hash


def release_from_json(data: Any, where: str) -> Release:
    picked = _pick(Release, data, where, skip=("index_id", "serial"))
    if not isinstance(picked.get("metadata", {}), dict):
        raise MaintenanceError(f"{where}: 'metadata' must be an object")
    return Release(index_id=0, **picked)


def file_from_json(data: Any, where: str) -> tuple[DistFile, list[ToxResult]]:
    picked = _pick(DistFile, data, where, skip=("id", "index_id"))
    picked["log"] = tuple(picked.get("log") or ())
    file = DistFile(index_id=0, **picked)
    results = []
    for number, item in enumerate(data.get("toxresults") or []):
        if not isinstance(item, dict) or not isinstance(item.get("sha256"), str):
            raise MaintenanceError(f"{where}: test result {number} needs a 'sha256'")
        results.append(
            ToxResult(
                0,
                0,
                0,
                file.filename,
                item["sha256"],
                str(item.get("created", "")),
                str(item.get("uploader", "")),
            )
        )
    return file, results


def mirror_page_from_json(data: Any, where: str) -> MirrorPage:
    picked = _pick(MirrorPage, data, where, skip=("index_id",))
    picked["versions"] = tuple(picked.get("versions") or ())
    return MirrorPage(index_id=0, **picked)
