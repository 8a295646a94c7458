"""First downloads of mirror files: one upstream request however many clients ask,
streamed to all of them while it is written and hashed, committed only when verified.

The first request for a file downloads it in its own thread, sending each chunk to its
client as the chunk is written: no extra thread and no reading back for the common
case of one client per file (a cold install asks for 40 files at once, and every thread
and hand-off costs the server CPU then). Requests for the same file meanwhile follow the
temp file as it grows. Both hold back the last bytes until the file is verified: a
client never receives a complete response carrying wrong bytes; on a mismatch its
transfer is cut short and nothing is kept. Storing the verified file (fsync, rename, one
database write) is handed to the coordinator's store threads once the last bytes went
out, so no client waits for the disk, not even the next request on the same connection
(pip asks one thing after another; an fsync costs 1 to 6 ms here). The store threads
take a store a moment (``STORE_DELAY``) after it was handed over, not at once: a cold
install asks for its core metadata and then its files in bursts of dozens of requests,
and storing what the first requests fetched took the CPU (and CPython's lock) from the
requests still being answered. Until the file is stored the download stays registered:
a request for it follows the temp file while it arrives, and once it arrived whole
stores it at once (``DownloadCoordinator.settle``) to be served the cached file. If
the first client goes away, the download is finished on a thread of its own, for the
cache and for the other readers; a crash meanwhile only means the file is fetched again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import IdxError, NotFound, StorageUnavailable, UpstreamError
from idx_server.storage import BlobStore, BlobWriter

log = logging.getLogger("idx.mirror")

CHUNK = 256 * 1024
#: Threads storing verified downloads (fsync, rename, database write).
STORE_THREADS = 4
#: Seconds a store waits before a store thread takes it: the burst of requests that
#: fetched it is answered first (see the module's docstring).
STORE_DELAY = 1.0
#: Stores waiting beyond this many are taken at once (the bytes of fetched core metadata
#: are held in memory until they are stored).
STORE_BACKLOG = 256
#: How long a reader waits for more bytes before it checks again.
WAIT = 1.0


class SharedDownload:
    """One upstream download, readable by any number of clients while it runs."""

    def __init__(
        self,
        file: DistFile,
        open_response: Callable[[], Any],
        blobs: BlobStore,
        on_stored: Callable[[str, int], None],
        after_stored: Callable[[str], None],
        describe: str,
    ) -> None:
        self.file = file
        self._open_response = open_response
        self._blobs = blobs
        self._on_stored = on_stored
        self._after_stored = after_stored
        self.describe = describe
        # sha256 verifies the file; md5 only when upstream gave nothing better.
        algorithms = ["sha256"] if file.sha256 or "md5" not in file.hashes else ["sha256", "md5"]
        self._writer: BlobWriter = blobs.writer(algorithms)
        self._temp: Path | None = self._writer.temp_path
        self._cond = threading.Condition()
        self._written = 0
        self._done = False
        #: Set once the whole file arrived and matched its hashes: readers may finish.
        self._verified = False
        self.error: IdxError | None = None
        self.sha256: str | None = None
        self._commit_error: IdxError | None = None
        #: Set once the verified file was stored (or failed to be).
        self._stored = threading.Event()
        self.size: int | None = file.size
        self.content_type = "application/octet-stream"
        self.started = threading.Event()
        self._response: Any = None
        #: Called once when the download ended (stored, or failed): the coordinator's.
        self.on_finish: Callable[[], None] | None = None
        #: Runs the store of the verified file (the coordinator's store thread); None: at once.
        self.store_later: Callable[[Callable[[], None]], None] | None = None

    # -- the download ------------------------------------------------------------------
    def open(self) -> None:
        """Ask upstream for the file, in the calling thread; raise if that failed (the
        error is also what requests following this download get)."""
        try:
            response = self._open_response()
            try:
                if response.status == 404:
                    raise NotFound(f"upstream has no file {self.file.filename} (404)")
                if response.status != 200:
                    raise UpstreamError(f"upstream answered {response.status} for {self.file.filename}")
            except IdxError:
                response.release_conn()
                raise
        except Exception as exc:
            error = self._failed(exc)
            if error is exc:
                raise
            raise error from exc
        length = response.headers.get("Content-Length")
        if self.size is None and length and length.isdigit():
            self.size = int(length)
        self._response = response
        self.started.set()

    def chunks(self) -> Iterator[bytes]:
        """The download after :meth:`open`: each chunk as it is written (for the first
        client), the last one only once the whole file is verified; then the file is
        stored. Errors end it with the error (and nothing kept)."""
        response = self._response
        pending: bytes | None = None
        try:
            try:
                for chunk in response.stream(CHUNK, decode_content=False):
                    self._append(chunk)
                    if pending is not None:
                        yield pending
                    pending = chunk
            finally:
                response.release_conn()
            self._verify()
        except Exception as exc:  # the download's state must always be finished
            error = self._failed(exc)
            if error is exc:
                raise
            raise error from exc
        if pending is not None:
            yield pending
        if self.store_later is not None:
            self.store_later(self._store)
        else:
            self._store()

    def run(self) -> None:
        """The whole download with no client of its own (readers follow the temp file)."""
        with contextlib.suppress(IdxError):
            self.open()
            for _ in self.chunks():
                pass

    def _append(self, chunk: bytes) -> None:
        self._writer.write(chunk)
        self._writer.flush()  # type: ignore[attr-defined]
        with self._cond:
            self._written += len(chunk)
            self._cond.notify_all()

    def _verify(self) -> None:
        digests = self._writer.hexdigests()
        expected = self.file.sha256
        if self.size is not None and self._writer.size != self.size:
            raise UpstreamError(
                f"{self.file.filename} from upstream has {self._writer.size} bytes, "
                f"upstream advertised {self.size}; nothing was kept"
            )
        if expected and digests["sha256"] != expected:
            raise UpstreamError(
                f"{self.file.filename} from upstream has sha256 {digests['sha256']}, "
                f"upstream advertised {expected}; nothing was kept"
            )
        for name, value in self.file.hashes.items():
            if name in ("md5",) and digests.get(name) not in (None, value):
                raise UpstreamError(f"{self.file.filename} from upstream does not match its {name} hash")
        # Verified: the readers get their last bytes now, then the file is stored (fsync,
        # rename, one database write) and the rest of the bookkeeping (core metadata,
        # eviction) done, off their path. Until it is, this download stays registered, so
        # a new request for the file follows it instead of asking upstream again.
        with self._cond:
            self._verified = True
            self._cond.notify_all()

    @property
    def verified(self) -> bool:
        """The whole file arrived and matched its hashes."""
        return self._verified

    def _store(self) -> None:
        sha256: str | None = None
        error: IdxError | None = None
        try:
            sha256 = self._writer.commit()
            self._on_stored(sha256, self._writer.size)
        except Exception as exc:  # the download's state must always be finished
            # The bytes were verified, so the readers still get them; they are just not kept.
            error = exc if isinstance(exc, IdxError) else StorageUnavailable(f"storing failed: {exc}")
            log.error("mirror download of %s was served but not cached: %s", self.describe, error.message)
        with self._cond:
            self.sha256 = sha256
            self._commit_error = error
            self._done = True
            self._cond.notify_all()
        self._stored.set()
        try:
            if sha256 is not None and error is None:  # not when its row failed to be written
                self._after_stored(sha256)
        finally:
            self._finished()

    def _finished(self) -> None:
        callback, self.on_finish = self.on_finish, None
        if callback is not None:
            callback()

    def discard(self) -> None:
        """Give up a download that was never started (its temp file goes)."""
        self._writer.discard()

    def _failed(self, exc: Exception) -> IdxError:
        """End the download with ``exc`` (an unexpected one becomes an UpstreamError,
        logged with its traceback); returns the error to raise."""
        if isinstance(exc, IdxError):
            error = exc
        else:
            error = UpstreamError(f"download of {self.file.filename} failed: {exc}")
            log.exception("download of %s failed", self.describe)
        self._fail(error)
        return error

    def _fail(self, error: IdxError) -> None:
        if isinstance(error, UpstreamError):
            log.error("mirror download of %s failed: %s", self.describe, error.message)
        self._writer.discard()
        with self._cond:
            self.error = error
            self._done = True
            self._cond.notify_all()
        self.started.set()
        self._stored.set()
        self._finished()

    # -- readers -------------------------------------------------------------------------
    def wait_started(self, timeout: float) -> None:
        """Block until upstream answered (or failed); raise if it failed."""
        if not self.started.wait(timeout):
            raise UpstreamError(f"upstream did not start sending {self.file.filename} in time")
        if self.error is not None and self._written == 0:
            raise self.error

    def reader(self) -> Iterator[bytes]:
        handle = self._open_for_reading()
        try:
            yield from self._follow(handle)
        finally:
            handle.close()

    def _open_for_reading(self) -> IO[bytes]:
        if self._temp is not None:
            try:
                return self._temp.open("rb")
            except FileNotFoundError:
                pass  # already stored under its sha256 (or discarded)
        self._stored.wait()
        if self.sha256 is None:
            raise (
                self.error or self._commit_error or UpstreamError(f"download of {self.file.filename} failed")
            )
        return self._blobs.open(self.sha256)

    def _follow(self, handle: IO[bytes]) -> Iterator[bytes]:
        sent = 0
        while True:
            with self._cond:
                while not self._done and not self._verified and self._written - sent <= 1:
                    self._cond.wait(WAIT)
                done, error, written = self._done or self._verified, self.error, self._written
                verified = self._verified
            if error is not None and not verified:
                raise error
            # Until verified, keep the final byte back: the response cannot complete early.
            limit = written if done else written - 1
            while sent < limit:
                chunk = handle.read(min(CHUNK, limit - sent))
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
            if done:
                return


class DownloadCoordinator:
    """Tracks running downloads so concurrent first requests share one."""

    def __init__(self) -> None:
        self._running: dict[tuple[int, str], SharedDownload] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        #: Stores handed over and not taken by a store thread yet: (when handed, store).
        self._stores: deque[tuple[float, Callable[[], None]]] = deque()
        self._store_ready = threading.Condition(self._lock)
        #: Stores handed over up to this time are taken at once: set by the waits, to
        #: infinity once the server stops (a request that outlived the stop may hand one
        #: over later, and it must be stored while the store is open).
        self._urgent_until = 0.0
        self._store_threads: list[threading.Thread] = []
        self._storing = 0  # handed to the store threads and not done yet
        self.store_delay = STORE_DELAY

    def store_later(self, store: Callable[[], None]) -> None:
        """Run a verified download's store on one of the store threads (a few, so the
        fsyncs of a burst of downloads overlap and the disk can flush them together;
        each keeps its database connection), ``store_delay`` seconds from now."""
        with self._lock:
            if not self._store_threads:
                for number in range(STORE_THREADS):
                    name = f"idx-store-{number}"
                    thread = threading.Thread(target=self._run_stores, name=name, daemon=True)
                    thread.start()
                    self._store_threads.append(thread)
            self._storing += 1
            self._stores.append((time.monotonic(), store))
            self._store_ready.notify()

    def _next_store(self) -> Callable[[], None]:
        with self._lock:
            while True:
                if not self._stores:
                    self._store_ready.wait()
                    continue
                handed, store = self._stores[0]
                wait = handed + self.store_delay - time.monotonic()
                if wait <= 0 or handed <= self._urgent_until or len(self._stores) > STORE_BACKLOG:
                    self._stores.popleft()
                    return store
                self._store_ready.wait(wait)

    def _run_stores(self) -> None:
        while True:
            self._run_store(self._next_store())

    def _run_store(self, store: Callable[[], None]) -> None:
        try:
            store()
        except Exception:  # a store reports its own errors; the thread must go on
            log.exception("a mirror store (a download or metadata) failed")
        finally:
            with self._idle:
                self._storing -= 1
                self._idle.notify_all()

    def settle(self, key: tuple[int, str]) -> bool:
        """Store now, in the calling thread, the download of ``key`` if it is verified and
        waiting for a store thread: a request for the file then gets the cached file (its
        ranges, its headers, nginx) instead of following the download. False when there
        is no such download (none, still arriving, or already being stored)."""
        with self._lock:
            download = self._running.get(key)
            if download is None or not download.verified:
                return False
            waiting = [entry for entry in self._stores if getattr(entry[1], "__self__", None) is download]
            if not waiting:
                return False
            self._stores.remove(waiting[0])
        self._run_store(waiting[0][1])
        return True

    def _hurry(self, until: float | None = None) -> None:
        """Let the store threads take at once every store handed over so far, or until
        ``until`` (the caller holds the lock)."""
        self._urgent_until = max(self._urgent_until, time.monotonic() if until is None else until)
        self._store_ready.notify_all()

    def wait_stored(self, timeout: float) -> bool:
        """Store at once what was handed to the store threads, and wait until it is
        stored (downloads still receiving bytes are not waited for)."""
        with self._idle:
            self._hurry()
            return self._idle.wait_for(lambda: not self._storing, timeout)

    def get_or_start(
        self, key: tuple[int, str], create: Callable[[], SharedDownload]
    ) -> tuple[SharedDownload, bool]:
        """The download of ``key``, and whether the caller leads it: a leader must
        :meth:`SharedDownload.open` it and then read (or :func:`finish_in_background`)
        its :meth:`~SharedDownload.chunks`; the others follow it with ``reader()``."""
        with self._lock:
            download = self._running.get(key)
        if download is not None:
            return download, False
        # Made outside the lock: making one creates its temp file, a system call during
        # which the GIL goes to other threads, and under load (a cold install asks for 40
        # files at once) getting it back while holding this lock would queue them all.
        candidate = create()
        with self._lock:
            download = self._running.get(key)
            if download is None:
                download = self._running[key] = candidate
        if download is not candidate:
            candidate.discard()  # another request started the same download meanwhile
            return download, False

        def finished() -> None:
            with self._idle:
                if self._running.get(key) is candidate:
                    del self._running[key]
                self._idle.notify_all()

        candidate.on_finish = finished
        candidate.store_later = self.store_later
        return candidate, True

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """The server stops: from now on every store is taken at once; wait for the
        running downloads to finish (before the store closes under them)."""
        with self._idle:
            self._hurry(until=math.inf)
            return self._idle.wait_for(lambda: not self._running, timeout)


def finish_in_background(download: SharedDownload, chunks: Iterator[bytes]) -> None:
    """Run the rest of a leader's download with nobody reading (its client went away,
    or never read): the file is still cached, and the requests following it still get it."""

    def drain() -> None:
        with contextlib.suppress(IdxError):
            for _ in chunks:
                pass

    threading.Thread(target=drain, name=f"idx-download-{download.file.filename}", daemon=True).start()
