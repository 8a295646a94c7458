"""SharedDownload: readers finish as soon as the file is verified; storing comes after."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from idx_server.mirror.downloads import DownloadCoordinator, SharedDownload
from idx_server.model.distfiles import DistFile
from idx_server.model.errors import UpstreamError
from idx_server.storage.blobs import FileBlobStore

DATA = b"0123456789" * 20_000


class FakeResponse:
    status = 200
    headers = {"Content-Length": str(len(DATA))}

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, size: int, decode_content: bool = False):
        for start in range(0, len(self.data), size):
            yield self.data[start : start + size]

    def release_conn(self) -> None:
        pass


def dist(sha256: str) -> DistFile:
    return DistFile(
        index_id=1, project="demo", version="1.0", filename="demo-1.0.tar.gz", path_key=sha256,
        sha256=sha256, size=len(DATA), upload_time="", url="http://upstream/demo-1.0.tar.gz", cached=False,
    )  # fmt: skip


def make(tmp_path: Path, on_stored, data: bytes = DATA) -> tuple[SharedDownload, FileBlobStore]:
    blobs = FileBlobStore(tmp_path / "blobs")
    download = SharedDownload(
        dist(hashlib.sha256(DATA).hexdigest()),
        lambda: FakeResponse(data),
        blobs,
        on_stored,
        lambda sha256: None,
        "demo",
    )
    return download, blobs


def test_readers_get_every_byte_before_the_file_is_stored(tmp_path: Path) -> None:
    release = threading.Event()
    stored: list[str] = []

    def on_stored(sha256: str, size: int) -> None:
        release.wait(10)
        stored.append(sha256)

    download, blobs = make(tmp_path, on_stored)
    runner = threading.Thread(target=download.run)
    runner.start()
    download.wait_started(5)
    reader = download.reader()
    received = b""
    while len(received) < len(DATA):
        received += next(reader)
    # The client has the whole, verified file while the store is still busy.
    assert received == DATA
    assert stored == []
    release.set()
    assert list(reader) == []  # the reader ends once the file is stored
    runner.join(5)
    assert stored == [hashlib.sha256(DATA).hexdigest()]
    assert blobs.exists(stored[0])


def test_a_mismatch_never_completes_a_reader(tmp_path: Path) -> None:
    download, _ = make(tmp_path, lambda sha256, size: None, data=DATA[:-1] + b"x")
    runner = threading.Thread(target=download.run)
    runner.start()
    download.wait_started(5)
    received: list[bytes] = []

    def read_all() -> None:
        received.extend(download.reader())

    with pytest.raises(UpstreamError, match="sha256"):
        read_all()
    runner.join(5)
    assert len(b"".join(received)) < len(DATA)
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


def test_concurrent_first_requests_share_one_download(tmp_path: Path) -> None:
    coordinator = DownloadCoordinator()
    made: list[SharedDownload] = []

    def create() -> SharedDownload:
        download, _ = make(tmp_path, lambda sha256, size: None)
        made.append(download)
        return download

    barrier = threading.Barrier(8)
    got: list[SharedDownload] = []

    def ask() -> None:
        barrier.wait()
        got.append(coordinator.get_or_start((1, "demo-1.0.tar.gz"), create))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert coordinator.wait_idle(5)
    assert len({id(d) for d in got}) == 1
    # Candidates made by requests that lost the race left no temp file behind.
    assert [p.name for p in (tmp_path / "blobs" / ".tmp").iterdir()] == []
