"""Looking inside uploaded archives, defensively: the core metadata, and no paths that
could escape a directory, no zip bombs, no runaway member counts."""

from __future__ import annotations

import posixpath
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from idx_server.model.distfiles import DistFilename
from idx_server.model.errors import InvalidUpload

MAX_METADATA_SIZE = 16 * 1024 * 1024
MAX_MEMBERS = 200_000
#: An archive may expand to this many times its size, plus a fixed allowance.
MAX_EXPANSION_RATIO = 100
EXPANSION_ALLOWANCE = 256 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveMetadata:
    """The core metadata found in a distribution."""

    #: The metadata file's bytes, exactly as in the archive (served as PEP 658 ``.metadata``).
    data: bytes | None
    #: Where it was, for messages.
    member: str


def _is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")


def _check_member_name(name: str, filename: str) -> None:
    if _is_absolute(name) or "\\" in name:
        raise InvalidUpload(f"Invalid distribution file {filename!r}: member {name!r} has an absolute path")
    if ".." in posixpath.normpath(name).split("/"):
        raise InvalidUpload(
            f"Invalid distribution file {filename!r}: member {name!r} points outside the archive"
        )


def read_metadata(path: Path, dist: DistFilename) -> ArchiveMetadata:
    """The core metadata of the wheel or sdist at ``path``."""
    if dist.is_wheel:
        return _wheel_metadata(path, dist)
    if dist.filename.lower().endswith(".zip"):
        return _zip_sdist_metadata(path, dist)
    return _tar_sdist_metadata(path, dist)


def _open_zip(path: Path, filename: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidUpload(f"Invalid distribution file {filename!r}: not a valid zip archive") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InvalidUpload(f"Invalid distribution file {filename!r}: more than {MAX_MEMBERS} members")
    compressed = max(path.stat().st_size, 1)
    expanded = sum(info.file_size for info in infos)
    if expanded > compressed * MAX_EXPANSION_RATIO + EXPANSION_ALLOWANCE:
        raise InvalidUpload(
            f"Invalid distribution file {filename!r}: it expands to {expanded} bytes, "
            "too much for its size (zip bomb?)"
        )
    for info in infos:
        _check_member_name(info.filename, filename)
    return archive


def _read_member(archive: zipfile.ZipFile, name: str, filename: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_METADATA_SIZE:
        raise InvalidUpload(f"Invalid distribution file {filename!r}: {name} is larger than 16 MiB")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidUpload(f"Invalid distribution file {filename!r}: cannot read {name}: {exc}") from None


def _wheel_metadata(path: Path, dist: DistFilename) -> ArchiveMetadata:
    with _open_zip(path, dist.filename) as archive:
        dist_infos = {
            name.split("/", 1)[0]
            for name in archive.namelist()
            if "/" in name and name.split("/", 1)[0].endswith(".dist-info")
        }
        matching = [d for d in dist_infos if _dist_info_matches(d, dist)]
        if len(matching) != 1:
            raise InvalidUpload(
                f"Invalid wheel {dist.filename!r}: expected one "
                f"{dist.project.replace('-', '_')}-{dist.version}.dist-info directory, "
                f"found {', '.join(sorted(dist_infos)) or 'none'}"
            )
        dist_info = matching[0]
        names = set(archive.namelist())
        for required in ("METADATA", "RECORD"):
            if f"{dist_info}/{required}" not in names:
                raise InvalidUpload(f"Invalid wheel {dist.filename!r}: {dist_info}/{required} is missing")
        member = f"{dist_info}/METADATA"
        return ArchiveMetadata(_read_member(archive, member, dist.filename), member)


def _dist_info_matches(directory: str, dist: DistFilename) -> bool:
    stem = directory.removesuffix(".dist-info")
    name, sep, _version = stem.rpartition("-")
    return bool(sep) and canonicalize_name(name) == dist.project


def _zip_sdist_metadata(path: Path, dist: DistFilename) -> ArchiveMetadata:
    with _open_zip(path, dist.filename) as archive:
        candidates = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
        if not candidates:
            return ArchiveMetadata(None, "")
        return ArchiveMetadata(_read_member(archive, candidates[0], dist.filename), candidates[0])


def _tar_sdist_metadata(path: Path, dist: DistFilename) -> ArchiveMetadata:
    budget = max(path.stat().st_size, 1) * MAX_EXPANSION_RATIO + EXPANSION_ALLOWANCE
    found: bytes | None = None
    member_name = ""
    count = 0
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise InvalidUpload(f"Invalid sdist {dist.filename!r}: more than {MAX_MEMBERS} members")
                _check_member_name(member.name, dist.filename)
                if member.issym() or member.islnk():
                    # A symlink's target is relative to its directory, a hard link's to the root.
                    base = posixpath.dirname(member.name) if member.issym() else ""
                    linkname = member.linkname.replace("\\", "/")
                    target = posixpath.normpath(posixpath.join(base, linkname))
                    if _is_absolute(member.linkname) or target.startswith(".."):
                        raise InvalidUpload(
                            f"Invalid sdist {dist.filename!r}: link {member.name!r} points outside "
                            "the archive"
                        )
                budget -= member.size
                if budget < 0:
                    raise InvalidUpload(
                        f"Invalid sdist {dist.filename!r}: it expands to too much for its size (tar bomb?)"
                    )
                if (
                    found is None
                    and member.isfile()
                    and member.name.count("/") == 1
                    and member.name.endswith("/PKG-INFO")
                ):
                    if member.size > MAX_METADATA_SIZE:
                        raise InvalidUpload(
                            f"Invalid sdist {dist.filename!r}: PKG-INFO is larger than 16 MiB"
                        )
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found = handle.read()
                        member_name = member.name
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InvalidUpload(f"Invalid sdist {dist.filename!r}: not a valid .tar.gz archive ({exc})") from None
    if found is None:
        raise InvalidUpload(
            f"Invalid sdist {dist.filename!r}: no PKG-INFO at the top of the archive "
            f"(expected {dist.project.replace('-', '_')}-{dist.version}/PKG-INFO); build it with "
            "'python -m build --sdist'"
        )
    return ArchiveMetadata(found, member_name)
