import io
import tarfile
import zipfile

import pytest
from idx_client.distfiles import file_digests, find_dists, inspect_dist
from idx_client.errors import InvalidDistribution
from idx_client.multipart import encode_multipart
from idx_client.progress import ProgressBar, human_size, tracked, wants_bar
from idx_server.testing import Project, make_sdist, make_wheel


def test_wheel(tmp_path):
    path = make_wheel(Project("Hello.World", "1.0", metadata_version="2.3")).write(tmp_path)
    dist = inspect_dist(path)
    assert (dist.project, dist.version, dist.filetype, dist.pyversion) == (
        "Hello.World",
        "1.0",
        "bdist_wheel",
        "py3",
    )
    assert dist.metadata_version == "2.3"
    assert dist.normalized_project == "hello-world"
    assert dist.size == path.stat().st_size


def test_sdist(tmp_path):
    dist = inspect_dist(make_sdist(Project("hello", "2.0rc1")).write(tmp_path))
    assert (dist.project, dist.version, dist.filetype, dist.pyversion) == (
        "hello",
        "2.0rc1",
        "sdist",
        "source",
    )


def test_zip_sdist(tmp_path):
    path = tmp_path / "hello-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello-1.0/PKG-INFO", "Metadata-Version: 1.2\nName: hello\nVersion: 1.0\n")
    assert inspect_dist(path).metadata_version == "1.2"


def test_not_distributions(tmp_path):
    bad_wheel = tmp_path / "hello-1.0-py3-none-any.whl"
    bad_wheel.write_bytes(b"not a zip")
    with pytest.raises(InvalidDistribution, match="cannot read the archive"):
        inspect_dist(bad_wheel)
    no_metadata = tmp_path / "hello-1.0.tar.gz"
    with tarfile.open(no_metadata, "w:gz") as tar:
        info = tarfile.TarInfo("hello-1.0/setup.py")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InvalidDistribution, match="has no PKG-INFO"):
        inspect_dist(no_metadata)
    odd_name = tmp_path / "hello.whl"
    odd_name.write_bytes(b"")
    with pytest.raises(InvalidDistribution, match=r"hello\.whl"):
        inspect_dist(odd_name)


def test_find_dists(tmp_path):
    wheel = make_wheel(Project("a", "1.0")).write(tmp_path)
    sdist = make_sdist(Project("a", "1.0")).write(tmp_path)
    (tmp_path / "README").write_text("x")
    (tmp_path / "sub").mkdir()
    assert find_dists([tmp_path]) == sorted([wheel, sdist])
    assert find_dists([sdist]) == [sdist]


def test_digests(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_digests(path)["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_multipart_streams_the_file(tmp_path):
    path = tmp_path / 'we"ird.whl'
    path.write_bytes(b"x" * 1000)
    body = encode_multipart([("name", "hello"), ("summary", "ünïcode")], "content", path)
    chunks = list(body.chunks(chunk_size=100))
    assert len(chunks) == 12  # head, ten file chunks, tail
    data = b"".join(chunks)
    assert len(data) == body.length
    assert body.content_type.startswith("multipart/form-data; boundary=idx-")
    assert b'filename="we\\22ird.whl"' in data
    assert "ünïcode".encode() in data


def test_progress_bar():
    stream = io.StringIO()
    bar = ProgressBar("up", 2_000_000, stream, interval=0)
    assert b"".join(tracked([b"a" * 1_000_000, b"b" * 1_000_000], bar)) == b"a" * 1_000_000 + b"b" * 1_000_000
    text = stream.getvalue()
    assert " 50% 1.0 MB/2.0 MB" in text
    assert "100% 2.0 MB/2.0 MB" in text
    assert text.endswith("\r\033[K")
    assert not wants_bar(io.StringIO(), 10**9)  # not a terminal
    assert [human_size(n) for n in (5, 1500, 2_500_000, 3 * 10**9)] == ["5 B", "1.5 kB", "2.5 MB", "3.0 GB"]
