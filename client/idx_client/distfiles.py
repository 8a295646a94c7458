"""Local distribution files: finding them, reading what the upload form needs, hashing."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from idx_client.errors import InvalidDistribution

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")
CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class LocalDist:
    """A wheel or sdist on disk, with the fields twine sends for it."""

    path: Path
    project: str
    version: str
    #: "bdist_wheel" or "sdist".
    filetype: str
    #: The wheel's Python tag ("py3", "cp312"), "source" for an sdist.
    pyversion: str
    metadata_version: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def normalized_project(self) -> str:
        return canonicalize_name(self.project)


def find_dists(paths: Iterable[Path]) -> list[Path]:
    """The files in ``paths``: files as given, directories' distribution files (not recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(DIST_SUFFIXES))
            if not inside:
                raise InvalidDistribution(f"{path}: no distribution files (*.whl, *.tar.gz, *.zip) in it")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidDistribution(f"{path}: no such file or directory")
    return found


def inspect_dist(path: Path) -> LocalDist:
    """Read ``path``'s name, version and metadata version (from the archive's metadata)."""
    name = path.name
    try:
        if name.endswith(".whl"):
            project, version, _build, tags = parse_wheel_filename(name)
            pyversion = ".".join(sorted({tag.interpreter for tag in tags}))
            filetype = "bdist_wheel"
        elif name.endswith((".tar.gz", ".zip")):
            project, version = parse_sdist_filename(name)
            pyversion, filetype = "source", "sdist"
        else:
            raise InvalidDistribution(f"{name}: not a wheel or sdist (*.whl, *.tar.gz, *.zip)")
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidDistribution(f"{name}: {exc}") from None
    headers = _read_metadata(path)
    return LocalDist(
        path=path,
        project=headers.get("Name") or str(project),
        version=headers.get("Version") or str(version),
        filetype=filetype,
        pyversion=pyversion,
        metadata_version=headers.get("Metadata-Version") or "2.1",
        size=path.stat().st_size,
    )


def _read_metadata(path: Path) -> dict[str, str]:
    try:
        data = _metadata_bytes(path)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise InvalidDistribution(f"{path.name}: cannot read the archive ({exc})") from None
    if data is None:
        where = "*.dist-info/METADATA" if path.name.endswith(".whl") else "PKG-INFO"
        raise InvalidDistribution(f"{path.name}: has no {where}; is it a distribution?")
    message = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    return {key: str(value).strip() for key, value in message.items()}


def _metadata_bytes(path: Path) -> bytes | None:
    name = path.name
    if name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                parts = member.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                    return archive.read(member)
        return None
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.count("/") == 1 and m.endswith("/PKG-INFO")]
            return archive.read(members[0]) if members else None
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            if info.isfile() and info.name.count("/") == 1 and info.name.endswith("/PKG-INFO"):
                handle = tar.extractfile(info)
                return handle.read() if handle else None
    return None


def file_digests(path: Path) -> dict[str, str]:
    """sha256 and blake2b-256 hex digests, read in one pass."""
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            sha256.update(chunk)
            blake2.update(chunk)
    return {"sha256": sha256.hexdigest(), "blake2_256": blake2.hexdigest()}
