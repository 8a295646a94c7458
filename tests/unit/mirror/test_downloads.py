"""SharedDownload: the first request downloads and streams in its own thread; others follow
the temp file; every reader finishes as soon as the file is verified, storing comes after."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from idx_server.mirror.downloads import DownloadCoordinator, SharedDownload
from idx_server.model.distfiles import DistFile
from idx_server.model.errors import UpstreamError
from idx_server.storage.blobs import FileBlobStore

DATA = b"0123456789" * 60_000  # more than two chunks of CHUNK (256 KiB)


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
    # The download runs once every request has asked: one that asks after it finished
    # rightly starts another (on a busy machine a thread can be that late).
    asked = threading.Barrier(8)
    got: list[SharedDownload] = []
    leaders: list[bool] = []

    def ask() -> None:
        barrier.wait()
        download, leader = coordinator.get_or_start((1, "demo-1.0.tar.gz"), create)
        got.append(download)
        leaders.append(leader)
        asked.wait()
        if leader:
            download.run()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert coordinator.wait_idle(5)
    assert coordinator.running() == 0
    assert len({id(d) for d in got}) == 1
    assert leaders.count(True) == 1
    # Candidates made by requests that lost the race left no temp file behind.
    assert [p.name for p in (tmp_path / "blobs" / ".tmp").iterdir()] == []


def test_the_leader_gets_every_byte_before_the_file_is_stored(tmp_path: Path) -> None:
    stored: list[str] = []
    download, blobs = make(tmp_path, lambda sha256, size: stored.append(sha256))
    download.open()
    chunks = download.chunks()
    received = b""
    while len(received) < len(DATA):
        received += next(chunks)
    assert received == DATA
    assert stored == []  # stored only when the body is asked for more, after the last byte
    assert list(chunks) == []
    assert stored == [hashlib.sha256(DATA).hexdigest()]
    assert blobs.exists(stored[0])


def test_the_leader_never_gets_the_last_chunk_of_a_mismatch(tmp_path: Path) -> None:
    download, _ = make(tmp_path, lambda sha256, size: None, data=DATA[:-1] + b"x")
    download.open()
    received: list[bytes] = []
    with pytest.raises(UpstreamError, match="sha256"):
        received.extend(download.chunks())
    assert 0 < len(b"".join(received)) < len(DATA)
    assert download.error is not None
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


def test_a_follower_gets_what_the_leader_streams(tmp_path: Path) -> None:
    download, _ = make(tmp_path, lambda sha256, size: None)
    download.open()
    chunks = download.chunks()
    first = next(chunks)  # the leader is under way
    follower: list[bytes] = []
    reading = threading.Thread(target=lambda: follower.extend(download.reader()))
    reading.start()
    rest = b"".join(chunks)
    reading.join(5)
    assert first + rest == DATA
    assert b"".join(follower) == DATA


def test_a_leader_whose_client_left_is_finished_in_the_background(tmp_path: Path) -> None:
    from idx_server.mirror.downloads import finish_in_background

    stored = threading.Event()
    coordinator = DownloadCoordinator()
    download, leader = coordinator.get_or_start(
        (1, "demo-1.0.tar.gz"), lambda: make(tmp_path, lambda sha256, size: stored.set())[0]
    )
    assert leader
    download.open()
    chunks = download.chunks()
    next(chunks)  # one chunk went out, then the client went away
    finish_in_background(download, chunks)
    assert stored.wait(5)
    assert coordinator.wait_idle(5)
    assert download.sha256 == hashlib.sha256(DATA).hexdigest()


def test_an_upstream_404_fails_the_leader_and_its_followers(tmp_path: Path) -> None:
    from idx_server.model.errors import NotFound

    class Missing(FakeResponse):
        status = 404

    coordinator = DownloadCoordinator()
    blobs = FileBlobStore(tmp_path / "blobs")
    create = lambda: SharedDownload(  # noqa: E731
        dist("0" * 64), lambda: Missing(b""), blobs, lambda s, n: None, lambda s: None, "demo"
    )
    download, leader = coordinator.get_or_start((1, "demo-1.0.tar.gz"), create)
    assert leader
    with pytest.raises(NotFound, match="upstream has no file"):
        download.open()
    with pytest.raises(NotFound):
        download.wait_started(1)  # what a request that joined meanwhile gets
    assert coordinator.running() == 0
    assert [p.name for p in (tmp_path / "blobs" / ".tmp").iterdir()] == []


def test_the_store_runs_on_its_own_thread_after_the_body_ended(tmp_path: Path) -> None:
    """No client waits for the fsync: the body ends when the last verified byte is out.
    Until the file is stored the download stays registered, and a request meanwhile
    follows it instead of asking upstream again."""
    release = threading.Event()
    stored: list[str] = []

    def on_stored(sha256: str, size: int) -> None:
        release.wait(10)
        stored.append(sha256)

    coordinator = DownloadCoordinator()
    key = (1, "demo-1.0.tar.gz")
    download, leader = coordinator.get_or_start(key, lambda: make(tmp_path, on_stored)[0])
    assert leader
    download.open()
    assert b"".join(download.chunks()) == DATA
    assert stored == []
    assert coordinator.running() == 1
    again, leads = coordinator.get_or_start(key, lambda: make(tmp_path, on_stored)[0])
    assert again is download
    assert not leads
    assert b"".join(again.reader()) == DATA
    assert not coordinator.wait_stored(0.05)
    release.set()
    assert coordinator.wait_stored(5)
    assert coordinator.wait_idle(5)
    assert stored == [hashlib.sha256(DATA).hexdigest()]


def test_a_store_waits_for_the_burst_that_fetched_it(tmp_path: Path) -> None:
    """The store threads take a verified download ``store_delay`` after its last byte:
    the requests of a cold install's burst are answered first. Meanwhile the download
    stays registered and a request for it follows it."""
    stored = threading.Event()
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 0.4
    key = (1, "demo-1.0.tar.gz")
    download, _ = coordinator.get_or_start(key, lambda: make(tmp_path, lambda sha, size: stored.set())[0])
    download.open()
    assert b"".join(download.chunks()) == DATA
    assert not stored.wait(0.2)  # the delay has not passed yet
    again, leads = coordinator.get_or_start(key, lambda: make(tmp_path, lambda sha, size: None)[0])
    assert again is download
    assert not leads
    assert b"".join(again.reader()) == DATA
    assert stored.wait(5)  # and then it is stored, with nobody asking
    assert coordinator.wait_idle(5)
    assert coordinator.running() == 0


def test_waiting_for_the_stores_stores_at_once(tmp_path: Path) -> None:
    """A test, or a server stopping, that waits for the stores does not wait out the delay."""
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 60
    done: list[str] = []
    coordinator.store_later(lambda: done.append("first"))
    coordinator.store_later(lambda: done.append("second"))
    assert coordinator.wait_stored(5)
    assert sorted(done) == ["first", "second"]
    coordinator.store_later(lambda: done.append("later"))  # handed over after the wait
    assert coordinator.wait_stored(5)
    assert done[-1] == "later"


def test_stopping_stores_the_downloads_waiting_for_their_delay(tmp_path: Path) -> None:
    stored = threading.Event()
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 60
    download, _ = coordinator.get_or_start(
        (1, "x"), lambda: make(tmp_path, lambda sha, size: stored.set())[0]
    )
    download.open()
    assert b"".join(download.chunks()) == DATA
    assert coordinator.running() == 1
    assert coordinator.wait_idle(5)  # what a stopping server waits for
    assert stored.is_set()
    assert coordinator.running() == 0


def test_a_long_backlog_is_stored_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetched metadata waits in memory until stored: a backlog beyond STORE_BACKLOG
    is not held for the delay."""
    from idx_server.mirror import downloads

    monkeypatch.setattr(downloads, "STORE_BACKLOG", 3)
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 60
    done = threading.Semaphore(0)
    for _ in range(6):
        coordinator.store_later(done.release)
    # Beyond 3 waiting, the oldest go at once, until 3 are left for the delay.
    for _ in range(3):
        assert done.acquire(timeout=5)
    assert not done.acquire(timeout=0.2)
    assert coordinator.wait_stored(5)


def test_a_request_for_a_download_waiting_for_its_store_stores_it_at_once(tmp_path: Path) -> None:
    """Settling: the next request for the file (a range, through nginx) gets the cached
    file, stored in its own thread, rather than following the download for a second."""
    stored_in: list[str] = []
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 60
    key = (1, "demo-1.0.tar.gz")

    def on_stored(sha256: str, size: int) -> None:
        stored_in.append(threading.current_thread().name)

    download, _ = coordinator.get_or_start(key, lambda: make(tmp_path, on_stored)[0])
    download.open()
    chunks = download.chunks()
    next(chunks)
    assert not coordinator.settle(key)  # still arriving: follow it
    assert b"".join(chunks)
    assert coordinator.settle(key)
    assert stored_in == [threading.current_thread().name]
    assert coordinator.running() == 0
    assert not coordinator.settle(key)  # nothing left to settle
    assert coordinator.wait_stored(0)


def test_once_the_server_stops_every_store_is_taken_at_once() -> None:
    """A request that outlived the stop hands its store over after the waits: it is
    stored at once, while the store is still open, not a second later."""
    coordinator = DownloadCoordinator()
    coordinator.store_delay = 60
    assert coordinator.wait_idle(5)  # what a stopping server waits for first
    done = threading.Event()
    coordinator.store_later(done.set)
    assert done.wait(5)
