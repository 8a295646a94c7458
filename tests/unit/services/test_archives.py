"""Looking inside uploaded archives: the metadata is found, and hostile archives are refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from idx_server.model.distfiles import parse_dist_filename
from idx_server.model.errors import InvalidUpload
from idx_server.services import archives
from idx_server.services.archives import read_metadata
from idx_server.testing import Project, make_sdist, make_wheel

PKG_INFO = b"Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n\n"


def read(tmp_path: Path, filename: str, content: bytes) -> archives.ArchiveMetadata:
    path = tmp_path / filename
    path.write_bytes(content)
    return read_metadata(path, parse_dist_filename(filename))


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def wheel_members(*, drop: tuple[str, ...] = (), extra: list[tuple[str, bytes]] | None = None) -> bytes:
    """A wheel of hello 1.0 without the ``drop`` members, with ``extra`` ones."""
    wheel = make_wheel(Project("hello", "1.0"))
    with zipfile.ZipFile(io.BytesIO(wheel.content)) as archive:
        members = [(n, archive.read(n)) for n in archive.namelist() if n.rsplit("/", 1)[-1] not in drop]
    return zip_bytes(members + (extra or []))


def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


WHEEL = "hello-1.0-py3-none-any.whl"
SDIST = "hello-1.0.tar.gz"


# -- wheels --------------------------------------------------------------------------------------
def test_wheel_metadata_is_returned_byte_for_byte(tmp_path):
    wheel = make_wheel(Project("hello", "1.0", requires_python=">=3.9"))
    found = read(tmp_path, wheel.filename, wheel.content)
    assert found.data == wheel.metadata
    assert found.member == "hello-1.0.dist-info/METADATA"


@pytest.mark.parametrize("missing", ["METADATA", "RECORD"])
def test_wheel_without_metadata_or_record_is_refused(tmp_path, missing):
    with pytest.raises(InvalidUpload, match=f"dist-info/{missing} is missing"):
        read(tmp_path, WHEEL, wheel_members(drop=(missing,)))


def test_wheel_without_dist_info_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="dist-info"):
        read(tmp_path, WHEEL, zip_bytes([("hello/__init__.py", b"")]))


def test_wheel_with_another_projects_dist_info_is_refused(tmp_path):
    other = make_wheel(Project("other", "1.0")).content
    with pytest.raises(InvalidUpload, match="dist-info"):
        read(tmp_path, WHEEL, other)


def test_wheel_with_two_matching_dist_infos_is_refused(tmp_path):
    extra = [("Hello-1.0.dist-info/METADATA", PKG_INFO), ("Hello-1.0.dist-info/RECORD", b"")]
    with pytest.raises(InvalidUpload, match="expected one"):
        read(tmp_path, WHEEL, wheel_members(extra=extra))


@pytest.mark.parametrize(
    "member",
    ["../evil.py", "hello/../../evil.py", "/etc/evil", "\\evil.py", "hello\\..\\..\\evil.py", "C:/evil.py"],
)
def test_wheel_members_outside_the_archive_are_refused(tmp_path, member):
    with pytest.raises(InvalidUpload, match=r"absolute path|outside the archive"):
        read(tmp_path, WHEEL, wheel_members(extra=[(member, b"x")]))


def test_not_a_zip_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="not a valid zip"):
        read(tmp_path, WHEEL, b"this is not a zip file")


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    # A megabyte of zeros deflates to about a kilobyte: a ratio far above the limit.
    monkeypatch.setattr(archives, "EXPANSION_ALLOWANCE", 0)
    bomb = wheel_members(extra=[("hello/zeros.bin", bytes(1024 * 1024))])
    assert len(bomb) * archives.MAX_EXPANSION_RATIO < 1024 * 1024
    with pytest.raises(InvalidUpload, match="zip bomb"):
        read(tmp_path, WHEEL, bomb)


def test_ordinary_compression_is_not_a_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "EXPANSION_ALLOWANCE", 0)
    code = "".join(f"VALUE_{i} = {i * 7919}\n" for i in range(2000))
    wheel = make_wheel(Project("hello", "1.0", code=code))
    assert read(tmp_path, wheel.filename, wheel.content).data == wheel.metadata


def test_too_many_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    with pytest.raises(InvalidUpload, match="more than 5 members"):
        read(tmp_path, WHEEL, wheel_members(extra=[(f"hello/m{i}.py", b"") for i in range(5)]))


# -- sdists --------------------------------------------------------------------------------------
def test_sdist_pkg_info_is_returned(tmp_path):
    sdist = make_sdist(Project("hello", "1.0"))
    found = read(tmp_path, sdist.filename, sdist.content)
    assert found.data == sdist.metadata
    assert found.member == "hello-1.0/PKG-INFO"


def test_sdist_without_pkg_info_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="no PKG-INFO"):
        read(tmp_path, SDIST, tar_bytes([("hello-1.0/setup.py", b"")]))


def test_sdist_with_pkg_info_only_deeper_down_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="no PKG-INFO"):
        read(tmp_path, SDIST, tar_bytes([("hello-1.0/sub/PKG-INFO", PKG_INFO)]))


@pytest.mark.parametrize(
    "member", ["../evil.py", "hello-1.0/../../evil.py", "/etc/evil", "hello-1.0\\evil.py"]
)
def test_sdist_members_outside_the_archive_are_refused(tmp_path, member):
    content = tar_bytes([("hello-1.0/PKG-INFO", PKG_INFO), (member, b"x")])
    with pytest.raises(InvalidUpload, match=r"absolute path|outside the archive"):
        read(tmp_path, SDIST, content)


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "../../../.."])
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_sdist_links_escaping_the_archive_are_refused(tmp_path, target, kind):
    content = tar_bytes([("hello-1.0/PKG-INFO", PKG_INFO), link("hello-1.0/escape", target, kind)])
    with pytest.raises(InvalidUpload, match="outside the archive"):
        read(tmp_path, SDIST, content)


def test_sdist_links_inside_the_archive_are_fine(tmp_path):
    content = tar_bytes(
        [("hello-1.0/PKG-INFO", PKG_INFO), ("hello-1.0/a.py", b""), link("hello-1.0/b.py", "a.py")]
    )
    assert read(tmp_path, SDIST, content).data == PKG_INFO


def test_tar_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "EXPANSION_ALLOWANCE", 0)
    content = tar_bytes([("hello-1.0/PKG-INFO", PKG_INFO), ("hello-1.0/zeros.bin", bytes(1024 * 1024))])
    with pytest.raises(InvalidUpload, match="tar bomb"):
        read(tmp_path, SDIST, content)


def test_not_a_tar_gz_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match=r"not a valid \.tar\.gz"):
        read(tmp_path, SDIST, b"\x1f\x8b but not really gzip")


def test_legacy_zip_sdist(tmp_path):
    found = read(
        tmp_path, "hello-1.0.zip", zip_bytes([("hello-1.0/PKG-INFO", PKG_INFO), ("hello-1.0/setup.py", b"")])
    )
    assert found.data == PKG_INFO
    # Very old zip sdists have no PKG-INFO: accepted, the form's fields stand in for it.
    assert read(tmp_path, "hello-1.0.zip", zip_bytes([("hello-1.0/setup.py", b"")])).data is None


def test_legacy_zip_sdist_with_escaping_member_is_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="outside the archive"):
        read(tmp_path, "hello-1.0.zip", zip_bytes([("hello-1.0/PKG-INFO", PKG_INFO), ("../evil", b"")]))
