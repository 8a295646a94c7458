"""Unpacking a downloaded sdist (or wheel) safely: every path stays inside the target
directory, links may only point inside it, and the sizes are bounded.

An sdist comes from an index, so it is untrusted input: ``tarfile.extractall`` without a
filter writes wherever a member's name says (``../../.bashrc``, ``/etc/...``), follows
links out of the tree and happily unpacks a zip bomb. Nothing here trusts a member's name,
type or declared size.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from idx_client.errors import ClientError

CHUNK_SIZE = 256 * 1024
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
ZIP_SUFFIXES = (".zip", ".whl")
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class UnsafeArchive(ClientError):
    """The archive tries to write outside its directory, or is too big to unpack."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what one archive may unpack to."""

    #: Bytes of file content, counted as written (a declared size may lie).
    max_total_size: int = 1024 * 1024 * 1024
    max_members: int = 100_000


@dataclass(frozen=True)
class Member:
    """One entry of a tar or zip archive, in the terms the checks need."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    #: The link's target for links (as stored), else "".
    target: str = ""
    executable: bool = False


def unpack_archive(archive: Path, dest: Path, limits: Limits | None = None) -> Path:
    """Unpack ``archive`` (``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.tar``, ``.zip``,
    ``.whl``) into ``dest`` (created if needed); returns ``dest``.

    Raises :class:`UnsafeArchive` for a member outside ``dest`` (absolute, ``..``, through
    a link), a link pointing outside it, a device or FIFO, or an archive over the limits;
    :class:`ClientError` for an archive that cannot be read.
    """
    dest.mkdir(parents=True, exist_ok=True)
    writer = _Writer(dest.resolve(), archive.name, limits or Limits())
    try:
        if archive.name.endswith(ZIP_SUFFIXES):
            _unpack_zip(archive, writer)
        elif archive.name.endswith(TAR_SUFFIXES):
            _unpack_tar(archive, writer)
        else:
            raise ClientError(f"{archive.name}: not an archive idx can unpack (.tar.gz, .zip, .whl)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise ClientError(f"cannot unpack {archive.name}: {exc}") from None
    writer.check_links()
    return dest


def _unpack_tar(archive: Path, writer: _Writer) -> None:
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            member = _tar_member(info, archive.name)
            if member is not None:
                writer.add(member, tar.extractfile(info) if member.kind == "file" else None)


def _unpack_zip(archive: Path, writer: _Writer) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            member = _zip_member(info, archive.name)
            if member.kind == "dir":
                writer.add(member, None)
                continue
            with zipped.open(info) as handle:
                if member.kind == "symlink":  # a zip symlink's content is its target
                    target = handle.read(4096).decode("utf-8", "replace")
                    writer.add(Member(member.name, "symlink", target), None)
                else:
                    writer.add(member, handle)


def _tar_member(info: tarfile.TarInfo, archive: str) -> Member | None:
    if info.isreg():
        return Member(info.name, "file", executable=bool(info.mode & 0o100))
    if info.isdir():
        return Member(info.name, "dir")
    if info.issym():
        return Member(info.name, "symlink", info.linkname)
    if info.islnk():
        return Member(info.name, "hardlink", info.linkname)
    if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
        return None  # metadata headers, already applied by tarfile
    raise UnsafeArchive(f"refusing to unpack {archive}: {info.name!r} is a device, FIFO or special file")


def _zip_member(info: zipfile.ZipInfo, archive: str) -> Member:
    mode = info.external_attr >> 16
    if info.is_dir():
        return Member(info.filename, "dir")
    if stat.S_ISLNK(mode):
        return Member(info.filename, "symlink")
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        raise UnsafeArchive(f"refusing to unpack {archive}: {info.filename!r} is a special file")
    return Member(info.filename, "file", executable=bool(mode & 0o100))


class _Writer:
    """Writes checked members under ``root``, counting members and bytes."""

    def __init__(self, root: Path, archive: str, limits: Limits) -> None:
        self.root = root
        self.archive = archive
        self.limits = limits
        self.members = 0
        self.written = 0

    def refuse(self, name: str, why: str) -> UnsafeArchive:
        return UnsafeArchive(f"refusing to unpack {self.archive}: {name!r} {why}")

    def add(self, member: Member, source: IO[bytes] | None) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise UnsafeArchive(
                f"refusing to unpack {self.archive}: more than {self.limits.max_members} members"
            )
        relative = self.safe_relpath(member.name)
        if relative is None:
            return  # the archive's root itself ("./")
        target = self.root / relative
        self.check_parent(member.name, target)
        if member.kind == "dir":
            if target.is_symlink():
                raise self.refuse(member.name, "is a directory where the archive has a link")
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        self.check_parent(member.name, target)
        if target.is_symlink() or target.is_file():
            target.unlink()  # a later member of the same name wins, as with tar itself
        elif target.exists():
            raise self.refuse(member.name, "would replace a directory")
        if member.kind == "symlink":
            self.symlink(member, relative, target)
        elif member.kind == "hardlink":
            self.hardlink(member, target)
        else:
            assert source is not None
            self.write(member, source, target)

    def safe_relpath(self, name: str) -> str | None:
        """``name`` as a relative POSIX path inside the root; refuses what leaves it."""
        if "\x00" in name or "\\" in name:
            raise self.refuse(name, "has a NUL byte or backslash in its name")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise self.refuse(name, "has an absolute path")
        normalized = posixpath.normpath(name)
        if normalized == ".":
            return None
        if normalized == ".." or normalized.startswith("../"):
            raise self.refuse(name, "points outside the archive's directory")
        return normalized

    def inside(self, path: str | Path) -> bool:
        return Path(os.path.realpath(path)).is_relative_to(self.root)

    def check_parent(self, name: str, target: Path) -> None:
        """No directory on the way to ``target`` may be a link leading out of the root."""
        if target.parent.exists() and not self.inside(target.parent):
            raise self.refuse(name, "would be written through a link outside the archive's directory")

    def symlink(self, member: Member, relative: str, target: Path) -> None:
        outside = f"is a link to {member.target!r}, outside the archive's directory"
        if not member.target or member.target.startswith("/") or "\x00" in member.target:
            raise self.refuse(member.name, outside)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relative), member.target))
        if resolved == ".." or resolved.startswith("../") or not self.inside(target.parent / member.target):
            raise self.refuse(member.name, outside)
        with contextlib.suppress(OSError):  # no symlinks here (Windows without the privilege)
            os.symlink(member.target, target)

    def hardlink(self, member: Member, target: Path) -> None:
        """Made as a copy of the file it names, which must be a file unpacked before it."""
        source_rel = self.safe_relpath(member.target)
        source = self.root / (source_rel or ".")
        if source_rel is None or not self.inside(source) or not source.is_file():
            raise self.refuse(member.name, f"is a hard link to {member.target!r}, not a file of the archive")
        with source.open("rb") as handle:
            self.write(Member(member.name, "file", executable=os.access(source, os.X_OK)), handle, target)

    def write(self, member: Member, source: IO[bytes], target: Path) -> None:
        """Copy ``source`` to a new file (never following a link), counting the bytes."""
        fd = os.open(target, _NEW_FILE, 0o755 if member.executable else 0o644)
        with os.fdopen(fd, "wb") as out:
            for chunk in _chunks(source):
                self.written += len(chunk)
                if self.written > self.limits.max_total_size:
                    raise UnsafeArchive(
                        f"refusing to unpack {self.archive}: it unpacks to more than "
                        f"{self.limits.max_total_size} bytes"
                    )
                out.write(chunk)

    def check_links(self) -> None:
        """Every link left in the tree resolves inside it (a link checked when it was made
        can point out later, once a link it goes through is replaced)."""
        for folder, dirs, files in os.walk(self.root):  # does not follow links
            for name in (*dirs, *files):
                path = Path(folder, name)
                if path.is_symlink() and not self.inside(path):
                    raise self.refuse(
                        str(path.relative_to(self.root)), "is a link outside the archive's directory"
                    )


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_SIZE):
        yield chunk
