"""Unpacking sdists for ``idx test``: ordinary archives unpack, hostile ones are refused
and write nothing outside the target directory."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from idx_client.archives import Limits, UnsafeArchive, unpack_archive
from idx_client.errors import ClientError
from idx_server.testing import Project, make_sdist, make_wheel

TarMember = tarfile.TarInfo | tuple[str, bytes]


def tar_file(path: Path, members: list[TarMember], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    return path


def zip_file(path: Path, members: list[tuple[str, bytes] | tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member[0])
            info.compress_type = zipfile.ZIP_DEFLATED
            if len(member) == 3:
                info.external_attr = member[2] << 16
            archive.writestr(info, member[1])
    return path


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """``tmp_path/box/out`` is where archives unpack; ``tmp_path/box`` is "outside"."""
    (tmp_path / "box").mkdir()
    return tmp_path / "box"


def outside_files(sandbox: Path) -> list[str]:
    return sorted(p.name for p in sandbox.iterdir() if p.name not in ("out", "a.tar.gz", "a.zip"))


def test_sdist_unpacks(tmp_path):
    sdist = make_sdist(Project("hello", "1.0"), extra={"tox.ini": "[tox]\n", "tests/test_x.py": "x = 1\n"})
    out = unpack_archive(sdist.write(tmp_path), tmp_path / "out")
    root = out / "hello-1.0"
    assert (root / "tox.ini").read_text() == "[tox]\n"
    assert (root / "tests" / "test_x.py").exists()
    assert (root / "PKG-INFO").exists()


def test_wheel_and_zip_unpack(tmp_path):
    wheel = make_wheel(Project("hello", "1.0")).write(tmp_path)
    assert (unpack_archive(wheel, tmp_path / "w") / "hello" / "__init__.py").exists()
    archive = zip_file(tmp_path / "a.zip", [("a-1.0/run.sh", b"#!/bin/sh\n", 0o100755), ("a-1.0/x", b"x")])
    out = unpack_archive(archive, tmp_path / "z")
    assert os.access(out / "a-1.0" / "run.sh", os.X_OK)
    assert not os.access(out / "a-1.0" / "x", os.X_OK)


def test_modes_are_tamed(tmp_path):
    info = tarfile.TarInfo("a/setuid")
    info.mode = 0o6777
    info.size = 1
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tar:
        tar.addfile(info, io.BytesIO(b"x"))
    out = unpack_archive(tmp_path / "a.tar.gz", tmp_path / "out")
    mode = stat.S_IMODE((out / "a" / "setuid").stat().st_mode)
    assert mode & stat.S_IXUSR
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH)


@pytest.mark.parametrize(
    "members",
    [
        [("/tmp/evil", b"x")],
        [("../evil", b"x")],
        [("a/../../evil", b"x")],
        [("a\\..\\..\\evil", b"x")],
        [special("a/link", tarfile.SYMTYPE, "/etc/passwd")],
        [special("a/link", tarfile.SYMTYPE, "../../evil")],
        [special("a/link", tarfile.LNKTYPE, "../evil")],
        [special("a/hard", tarfile.LNKTYPE, "/etc/passwd")],
        [special("a/fifo", tarfile.FIFOTYPE)],
        [special("a/dev", tarfile.CHRTYPE)],
        # A link to a directory outside, then a file written through it.
        [
            special("a/up", tarfile.SYMTYPE, ".."),
            special("a/up/up", tarfile.SYMTYPE, ".."),
            ("a/up/up/evil", b"x"),
        ],
    ],
    ids=[
        "absolute",
        "dotdot",
        "nested-dotdot",
        "backslashes",
        "symlink-absolute",
        "symlink-dotdot",
        "hardlink-dotdot",
        "hardlink-absolute",
        "fifo",
        "device",
        "through-links",
    ],
)
def test_hostile_tar_is_refused(sandbox, members):
    archive = tar_file(sandbox / "a.tar.gz", members)
    with pytest.raises(UnsafeArchive, match=r"refusing to unpack a\.tar\.gz"):
        unpack_archive(archive, sandbox / "out")
    assert outside_files(sandbox) == []
    assert not Path("/tmp/evil").exists()


def test_link_that_points_out_later_is_refused(sandbox):
    """``z -> y/..`` is inside while ``y -> sub``; replacing ``y`` with ``-> .`` sends z out."""
    members: list[TarMember] = [
        special("sub", tarfile.DIRTYPE),
        special("y", tarfile.SYMTYPE, "sub"),
        special("z", tarfile.SYMTYPE, "y/.."),
        special("y", tarfile.SYMTYPE, "."),
    ]
    archive = tar_file(sandbox / "a.tar.gz", members)
    with pytest.raises(UnsafeArchive, match="'z' is a link outside"):
        unpack_archive(archive, sandbox / "out")


def test_links_inside_are_kept(tmp_path):
    members: list[TarMember] = [
        ("p-1.0/README", b"read me"),
        special("p-1.0/docs", tarfile.DIRTYPE),
        special("p-1.0/docs/README", tarfile.SYMTYPE, "../README"),
        special("p-1.0/COPY", tarfile.LNKTYPE, "p-1.0/README"),
        special("p-1.0/alias", tarfile.SYMTYPE, "docs"),
        ("p-1.0/alias/new", b"through an inside link"),
    ]
    out = unpack_archive(tar_file(tmp_path / "p.tar.gz", members), tmp_path / "out")
    root = out / "p-1.0"
    assert (root / "docs" / "README").read_text() == "read me"
    assert (root / "COPY").read_text() == "read me"
    assert not (root / "COPY").is_symlink()
    assert (root / "docs" / "new").read_text() == "through an inside link"


@pytest.mark.parametrize(
    "members",
    [
        [("../evil", b"x")],
        [("/evil", b"x")],
        [("a/link", b"../../evil", 0o120777)],
        [("a/link", b"/etc", 0o120777)],
        [("a/fifo", b"", 0o010644)],
    ],
    ids=["dotdot", "absolute", "symlink-dotdot", "symlink-absolute", "fifo"],
)
def test_hostile_zip_is_refused(sandbox, members):
    archive = zip_file(sandbox / "a.zip", members)
    with pytest.raises(UnsafeArchive, match=r"refusing to unpack a\.zip"):
        unpack_archive(archive, sandbox / "out")
    assert outside_files(sandbox) == []


def test_zip_bomb_is_stopped_by_the_bytes_written(tmp_path):
    archive = zip_file(tmp_path / "bomb.zip", [("a/zeros", b"\0" * 5_000_000)])
    assert archive.stat().st_size < 20_000
    with pytest.raises(UnsafeArchive, match="more than 1000000 bytes"):
        unpack_archive(archive, tmp_path / "out", Limits(max_total_size=1_000_000))


def test_tar_limits(tmp_path):
    archive = tar_file(tmp_path / "many.tar.gz", [(f"a/{n}", b"x") for n in range(20)])
    with pytest.raises(UnsafeArchive, match="more than 10 members"):
        unpack_archive(archive, tmp_path / "out", Limits(max_members=10))
    big = tar_file(tmp_path / "big.tar.gz", [("a/big", b"y" * 2048)])
    with pytest.raises(UnsafeArchive, match="more than 1024 bytes"):
        unpack_archive(big, tmp_path / "out2", Limits(max_total_size=1024))


def test_broken_or_unknown_archives(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(ClientError, match=r"cannot unpack x\.tar\.gz"):
        unpack_archive(tmp_path / "x.tar.gz", tmp_path / "out")
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ClientError, match=r"cannot unpack x\.zip"):
        unpack_archive(tmp_path / "x.zip", tmp_path / "out")
    (tmp_path / "x.rpm").write_bytes(b"")
    with pytest.raises(ClientError, match="not an archive"):
        unpack_archive(tmp_path / "x.rpm", tmp_path / "out")
