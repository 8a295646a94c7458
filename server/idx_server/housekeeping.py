"""Periodic chores of a running server, on one background thread: persist mirror files'
access times (for LRU eviction) and hand freed memory back to the system; and the
process-wide tuning done once at start-up (malloc arenas, CPU pinning, the request
threads' scheduling policy)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("idx.housekeeping")

INTERVAL_SECONDS = 30.0


#: glibc's mallopt parameter for the number of malloc arenas.
M_ARENA_MAX = -8
#: Arenas for the daemon: glibc's default is 8 per core, and with a pool of request threads
#: each arena keeps its own freed pages (measured in the soak test: 225 MiB RSS with the
#: default, 110 MiB with 2, the same throughput: the GIL serialises Python's allocations).
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once, when first needed."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas, before the request threads start; ``MALLOC_ARENA_MAX``
    in the environment wins (glibc has read it itself). True when the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


def pin_to_one_cpu() -> int | None:
    """Run every thread of this process on one of the CPUs it may use (chosen by process
    id, so several servers on one machine spread out). Returns that CPU, or None when
    there is nothing to choose (one CPU allowed, or no ``sched_setaffinity``).

    CPython runs one thread at a time. Each time a request thread blocks (a socket, a
    SQLite step, a file write) it hands the interpreter lock to another; when that one
    waits on another CPU, every hand-off is a cross-CPU wake-up, and under load those
    wake-ups cost more than the second CPU brings (measured on 2 cores: warm project
    pages 5,000 -> 8,700 requests/s, 40 concurrent cold pages 100 -> 65 ms of CPU).
    Threads started later inherit the mask; the ones already running are moved too.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    cpu = allowed[os.getpid() % len(allowed)]
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, {cpu})
        except OSError:  # a thread that just ended, or a mask the system refuses
            continue
    return cpu


def schedule_as_batch(on: bool) -> bool:
    """Linux: schedule the calling thread, and the threads it starts from then on, under
    ``SCHED_BATCH`` (``on``) or back under the normal ``SCHED_OTHER``. True when it took
    effect; False where there is no such policy, the system refuses it, or (``on``) the
    thread runs under another policy than the normal one (``chrt`` at start-up): that
    choice is left alone.

    A woken ``SCHED_BATCH`` thread does not preempt the thread running on its CPU; it waits
    until that one blocks. Request threads hand CPython's one interpreter lock to each other
    all the time, and a request thread that preempted the holder could only wait for the
    lock again: on the CPU the server is pinned to, that is two context switches for
    nothing, every hand-off. Measured on the 2-core benchmark machine with a warm page
    loaded by wrk: 9 context switches per request -> 4, 6,300 -> 7,800 requests/s, p99 6 ->
    3 ms. The main thread keeps the normal policy, so that a request arriving while
    another process runs on the CPU is read at once (with it under ``SCHED_BATCH`` too,
    some wrk runs had a p99 of 40-100 ms).
    """
    setter = getattr(os, "sched_setscheduler", None)
    policy = getattr(os, "SCHED_BATCH" if on else "SCHED_OTHER", None)
    if setter is None or policy is None:
        return False
    try:
        if on and os.sched_getscheduler(0) != os.SCHED_OTHER:
            return False  # a policy chosen for the server when it was started: left as it is
        setter(0, policy, os.sched_param(0))
    except OSError:
        return False
    return True


def allowed_cpus() -> list[int] | None:
    """The CPUs this process was started with (before pinning), for helper processes."""
    return _ALLOWED_AT_START


_ALLOWED_AT_START: list[int] | None = (
    sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
)


def release_memory() -> None:
    """glibc's malloc_trim(0): Python frees memory to malloc, which keeps it; this returns
    the free pages to the system, so a burst (a big upstream listing, a flood of requests)
    does not leave the server's RSS high for good. Called every chore interval, and at
    once after a big transient allocation (rendering a 700,000-name project list). A
    no-op elsewhere than glibc."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


class _Mallinfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later): every field a size_t."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_usage() -> tuple[int, int] | None:
    """Bytes malloc has handed out and not had back (in its arenas plus its own mmaps), and
    bytes it holds free, over every arena: glibc's ``mallinfo2``. None elsewhere.

    With ``idx_python_allocated_blocks`` this tells apart a resident size that grows
    because something native keeps allocating (in use grows) from one that grows because
    freed memory stays scattered over pages malloc cannot give back (free grows)."""
    mallinfo2 = getattr(_libc(), "mallinfo2", None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd, info.fordblks


class Housekeeping:
    def __init__(self, chores: list[Callable[[], None]], interval: float = INTERVAL_SECONDS) -> None:
        self.chores = [*chores, release_memory]
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
