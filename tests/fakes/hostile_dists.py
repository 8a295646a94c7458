"""Distributions built to hurt: archives with members of any name, type and size.

``make_wheel`` and ``make_sdist`` build well-formed files; these build what an attacker
would send instead: ``..`` and absolute member names, symlinks and hard links that point
out of the archive, devices, METADATA of any bytes, and bombs that expand to hundreds of
megabytes from a few hundred kilobytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

NAME = "hello"
VERSION = "1.0"
WHEEL_NAME = f"{NAME}-{VERSION}-py3-none-any.whl"
SDIST_NAME = f"{NAME}-{VERSION}.tar.gz"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
SDIST_ROOT = f"{NAME}-{VERSION}"
METADATA = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: hostile\n\nbody\n".encode()

MIB = 1024 * 1024
S_IFLNK = 0o120000
S_IFREG = 0o100000


@dataclass(frozen=True)
class Member:
    """One archive member: a regular file, or (``link``) a symlink whose data is its target."""

    name: str
    data: bytes = b""
    link: bool = False
    #: For tar only: a type other than a regular file or symlink (tarfile.LNKTYPE, ...).
    tar_type: bytes | None = None


def zip_info(name: str, link: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((S_IFLNK | 0o777) if link else (S_IFREG | 0o644)) << 16
    return info


def _record(files: Iterable[tuple[str, bytes]]) -> bytes:
    lines = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{DIST_INFO}/RECORD,,")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def wheel(members: Sequence[Member] = (), metadata: bytes = METADATA) -> bytes:
    """``hello-1.0-py3-none-any.whl`` with ``members`` besides its own METADATA, WHEEL, RECORD."""
    own = [
        Member(f"{NAME}/__init__.py", b"VALUE = 1\n"),
        Member(f"{DIST_INFO}/METADATA", metadata),
        Member(f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    taken = {m.name for m in own} | {f"{DIST_INFO}/RECORD"}
    extra = unique(m for m in members if m.name not in taken)
    files = [*own, *extra]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in files:
            archive.writestr(zip_info(member.name, member.link), member.data)
        record = _record((m.name, m.data) for m in files)
        archive.writestr(zip_info(f"{DIST_INFO}/RECORD"), record)
    return buffer.getvalue()


def unique(members: Iterable[Member]) -> list[Member]:
    """``members`` without repeated names (zipfile warns about them, tests turn warnings into errors)."""
    seen: set[str] = set()
    kept = []
    for member in members:
        if member.name not in seen:
            seen.add(member.name)
            kept.append(member)
    return kept


def sdist(members: Sequence[Member] = (), pkg_info: bytes = METADATA) -> bytes:
    """``hello-1.0.tar.gz`` with a valid ``hello-1.0/PKG-INFO`` and ``members``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for member in [Member(f"{SDIST_ROOT}/PKG-INFO", pkg_info), *members]:
            info = tarfile.TarInfo(member.name)
            info.mtime = 1_767_225_600
            info.mode = 0o644
            if member.tar_type is not None:
                info.type = member.tar_type
                info.linkname = member.data.decode("utf-8", "surrogateescape")
                archive.addfile(info)
            elif member.link:
                info.type = tarfile.SYMTYPE
                info.linkname = member.data.decode("utf-8", "surrogateescape")
                archive.addfile(info)
            else:
                info.size = len(member.data)
                archive.addfile(info, io.BytesIO(member.data))
    return buffer.getvalue()


# -- what an unpacker would do with a member ----------------------------------------------------
_DRIVE = re.compile(r"^[A-Za-z]:")


def is_absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(_DRIVE.match(path))


def climbs_out(path: str) -> bool:
    """Whether ``path`` (relative to the archive's root) leads outside it."""
    normal = posixpath.normpath(path.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def escapes(member: Member) -> bool:
    """Whether unpacking ``member`` could touch a file outside the target directory: an
    absolute or ``..`` name, or a link to outside. A symlink's target is relative to its
    directory; a tar hard link's target is relative to the archive's root."""
    if is_absolute(member.name) or climbs_out(member.name):
        return True
    target = member.data.decode("utf-8", "surrogateescape")
    if member.link:
        return is_absolute(target) or climbs_out(posixpath.join(posixpath.dirname(member.name), target))
    if member.tar_type == tarfile.LNKTYPE:
        return is_absolute(target) or climbs_out(target)
    return False


# -- bombs --------------------------------------------------------------------------------------
def _zeros(size: int) -> Iterable[bytes]:
    chunk = bytes(MIB)
    for _ in range(size // MIB):
        yield chunk


@lru_cache(maxsize=1)
def zip_bomb(size: int = 320 * MIB) -> bytes:
    """A wheel with a member of ``size`` zero bytes (about 1000 times smaller compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in (
            Member(f"{DIST_INFO}/METADATA", METADATA),
            Member(f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n"),
            Member(f"{DIST_INFO}/RECORD", b""),
        ):
            archive.writestr(zip_info(member.name), member.data)
        info = zip_info(f"{NAME}/zeros.bin")
        with archive.open(info, "w", force_zip64=True) as handle:
            for chunk in _zeros(size):
                handle.write(chunk)
    return buffer.getvalue()


def zip_lying_about_size(declared: int = 0xFFFFFFF0) -> bytes:
    """A wheel whose central directory claims a member of ``declared`` bytes that really
    holds one byte: what a checker that trusts the directory must refuse, and one that
    unpacks must not believe."""
    out = bytearray(wheel([Member(f"{NAME}/big.bin", b"x")]))
    name = f"{NAME}/big.bin".encode()
    at = out.rfind(name)  # the central directory comes after the local headers
    central = out.rfind(b"PK\x01\x02", 0, at)
    assert at - central == 46, "expected the central directory record of big.bin"
    out[central + 24 : central + 28] = declared.to_bytes(4, "little")
    return bytes(out)


@lru_cache(maxsize=1)
def tar_bomb(size: int = 320 * MIB) -> bytes:
    """An sdist with a member of ``size`` zero bytes, gzip'd to a few hundred kilobytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    out = io.BytesIO()

    class Sink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            out.write(compressor.compress(data))
            return len(data)

    class Zeros(io.RawIOBase):
        def __init__(self, left: int) -> None:
            self.left = left

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(fileobj=Sink(), mode="w|", format=tarfile.PAX_FORMAT) as archive:
        pkg_info = tarfile.TarInfo(f"{SDIST_ROOT}/PKG-INFO")
        pkg_info.size = len(METADATA)
        archive.addfile(pkg_info, io.BytesIO(METADATA))
        info = tarfile.TarInfo(f"{SDIST_ROOT}/zeros.bin")
        info.size = size
        archive.addfile(info, io.BufferedReader(Zeros(size)))  # type: ignore[type-var]
    out.write(compressor.flush())
    return out.getvalue()


def huge_metadata(size: int) -> bytes:
    """A METADATA of about ``size`` bytes: valid headers and a long description."""
    line = b"All work and no play makes Jack a dull boy. " * 20 + b"\n"
    body = line * (size // len(line) + 1)
    return METADATA + body[:size]
