"""Content-addressed files on disk: ``{root}/{sha256[:2]}/{sha256[2:4]}/{sha256}``.

A blob is written to a temp file in ``{root}/.tmp``, fsynced, then renamed into
place, so a blob path either holds the complete, verified bytes or does not exist.
The same bytes held by several indexes are stored once.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from idx_server.model.errors import InsufficientStorage, StorageUnavailable
from idx_server.storage import TempFile


def storage_error(exc: OSError) -> Exception:
    """Turn a disk error into an error a client can be shown."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage("the server's disk is full; ask its administrator to free space")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageUnavailable("the server's storage is read-only right now; try again later")
    return StorageUnavailable(f"the server could not write to its storage ({exc.strerror})")


#: The digests a writer can compute (the legacy upload API's names).
ALGORITHMS = ("sha256", "md5", "blake2_256")


def _hasher(algorithm: str) -> Any:
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "blake2_256":
        return hashlib.blake2b(digest_size=32)
    return hashlib.new(algorithm)


class FileBlobWriter:
    """Writes one blob to a temp file, hashing as it goes (sha256 always, the others of
    ``algorithms`` when asked: each costs CPU on every byte)."""

    def __init__(self, store: FileBlobStore, algorithms: Iterable[str] = ALGORITHMS) -> None:
        self._store = store
        try:
            fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="blob-")
        except OSError as exc:
            raise storage_error(exc) from exc
        self._file: IO[bytes] | None = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._sha256 = hashlib.sha256()
        self._others = {name: _hasher(name) for name in algorithms if name != "sha256"}
        self.size = 0

    @property
    def temp_path(self) -> Path | None:
        return self._path

    def write(self, data: bytes) -> None:
        assert self._file is not None, "writer is closed"
        try:
            self._file.write(data)
        except OSError as exc:
            self.discard()
            raise storage_error(exc) from exc
        self._sha256.update(data)
        for hasher in self._others.values():
            hasher.update(data)
        self.size += len(data)

    def hexdigests(self) -> dict[str, str]:
        digests = {"sha256": self._sha256.hexdigest()}
        digests.update({name: hasher.hexdigest() for name, hasher in self._others.items()})
        return digests

    def flush(self) -> None:
        """Make what was written so far readable through :attr:`temp_path`."""
        if self._file is not None:
            self._file.flush()

    def commit(self) -> str:
        sha256 = self._sha256.hexdigest()
        if self._file is None:
            raise RuntimeError("blob writer already closed")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            target = self._store.path(sha256)
            if target.exists():
                self._path.unlink()
                # Fresh again: `idx-server check --repair` leaves young blobs alone, so it
                # cannot take this one for an orphan before our row commits.
                os.utime(target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._path, target)
                self._store.fsync_dir(target.parent)
        except OSError as exc:
            self.discard()
            raise storage_error(exc) from exc
        return sha256

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)

    def __enter__(self) -> FileBlobWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self.discard()


def blob_relpath(sha256: str) -> str:
    """Where a blob lives under the blob directory (``serverdir/+files/``): the layout
    nginx is pointed at for X-Accel-Redirect and the file check."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class FileBlobStore:
    """The default :class:`~idx_server.storage.BlobStore`: files under the server directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / ".tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / blob_relpath(sha256)

    def clean_tmp(self) -> int:
        """Remove temp files left by a crash; returns how many."""
        removed = 0
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed

    @staticmethod
    def fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def writer(self, algorithms: Iterable[str] = ALGORITHMS) -> FileBlobWriter:
        return FileBlobWriter(self, algorithms)

    def put_bytes(self, data: bytes) -> str:
        with self.writer(("sha256",)) as writer:  # only the sha256 is returned
            writer.write(data)
            return writer.commit()

    def open(self, sha256: str) -> IO[bytes]:
        return self.path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def local_path(self, sha256: str) -> Path | None:
        return self.path(sha256)

    def iter_all(self) -> Iterator[str]:
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for blob in sorted(second.iterdir()):
                    yield blob.name

    def free_space(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

    def total_size(self) -> int:
        return sum(self.size(sha) for sha in self.iter_all())

    def modified(self, sha256: str) -> float:
        return self.path(sha256).stat().st_mtime

    def temp_files(self) -> list[TempFile]:
        found = []
        for entry in sorted(self.tmp_dir.iterdir()):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # finished (renamed into place) while we looked
            found.append(TempFile(entry.name, stat.st_size, stat.st_mtime))
        return found

    def remove_temp(self, name: str) -> None:
        if "/" in name or name in (".", ".."):
            raise ValueError(f"not a temp file name: {name!r}")
        (self.tmp_dir / name).unlink(missing_ok=True)
