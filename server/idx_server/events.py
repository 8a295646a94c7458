"""Events: what changed, delivered to plugin hooks after commit on a background thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pluggy

from idx_server.model.distfiles import DistFile
from idx_server.plugins import call_impl

log = logging.getLogger("idx.events")

EVENT_NAMES = frozenset(
    {
        "user_created",
        "index_created",
        "index_deleted",
        "release_uploaded",
        "release_deleted",
        "release_yanked",
        "file_cached",
        "toxresult_stored",
        "pushed",
    }
)


@dataclass(frozen=True)
class Event:
    """One change, as plugins see it. ``name`` picks the hook (``idx_<name>``)."""

    name: str
    serial: int
    time: str
    index: str = ""
    project: str = ""
    version: str = ""
    user: str = ""
    files: tuple[dict[str, Any], ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


def file_ref(index: str, file: DistFile, url_base: str = "") -> dict[str, str]:
    """How events name a file: ``{"filename", "sha256", "path"}``, plus ``"url"`` when the
    public base URL of ``index`` (ending in ``/``) is known."""
    ref = {"filename": file.filename, "sha256": file.sha256, "path": f"/{index}/{file.relpath}"}
    if url_base:
        ref["url"] = url_base + file.relpath
    return ref


class EventDispatcher:
    """Runs event hooks one at a time on a daemon thread, in commit order."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Set by stop(): what is still queued is dropped, not delivered (the store that
        #: hooks read is about to close).
        self._stopping = threading.Event()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def emit(self, event: Event) -> None:
        if event.name not in EVENT_NAMES:
            raise ValueError(f"unknown event {event.name!r}")
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idx-events", daemon=True)
                self._thread.start()
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                if self._stopping.is_set():
                    self.dropped += 1
                    continue
                self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: Event) -> None:
        hook_name = "idx_" + event.name
        for impl in reversed(getattr(self._pm.hook, hook_name).get_hookimpls()):
            try:
                call_impl(impl, hook_name, {"event": event})
                self.delivered += 1
            except Exception:
                self.failed += 1
                log.exception("plugin %s failed handling event %s", impl.plugin_name, event.name)

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was delivered (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def pending(self) -> int:
        """Events emitted and not yet delivered (the ``idx_events_pending`` metric)."""
        return self._queue.unfinished_tasks

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for up to ``timeout`` seconds, then drop the rest, with one
        warning: at shutdown no hook may run once the store is closed."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)
        if thread.is_alive():
            self._stopping.set()
            thread.join(timeout)  # the event being delivered finishes; the rest is skipped
        if self.dropped:
            log.warning(
                "%d events were still queued at shutdown and were not delivered to plugins "
                "(they came faster than the plugins' hooks handled them)",
                self.dropped,
            )
