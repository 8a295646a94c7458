"""Periodic chores of a running server, on one background thread: persist mirror files'
access times (for LRU eviction) and hand freed memory back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("idx.housekeeping")

INTERVAL_SECONDS = 30.0


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0): Python frees memory to malloc, which keeps it; this returns
    the free pages to the system, so a burst (a big upstream listing, a flood of requests)
    does not leave the server's RSS high for good. A no-op elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None
    return lambda: trim(0) and None


class Housekeeping:
    def __init__(self, chores: list[Callable[[], None]], interval: float = INTERVAL_SECONDS) -> None:
        self.chores = [*chores, _malloc_trim()]
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idx-housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> None:
        for chore in self.chores:
            try:
                chore()
            except Exception:
                log.exception("housekeeping chore %s failed", getattr(chore, "__name__", chore))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
