"""The daemon's memory chores: malloc arenas capped, chores that fail do not stop others;
and the request threads' scheduling policy."""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable

import pytest
from idx_server import housekeeping
from idx_server.housekeeping import Housekeeping, limit_malloc_arenas, schedule_as_batch


def test_the_environment_wins_over_the_arena_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)
def test_arenas_are_capped_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is True


def test_no_libc_no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(housekeeping, "_libc", lambda: None)
    assert limit_malloc_arenas() is False


def test_a_failing_chore_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    Housekeeping([broken, lambda: ran.append("second")]).run_once()
    assert ran == ["second"]
    assert "housekeeping chore broken failed" in caplog.text


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallinfo2 only"
)
def test_malloc_usage_follows_a_native_allocation() -> None:
    import ctypes

    before = housekeeping.malloc_usage()
    assert before is not None
    block = ctypes.create_string_buffer(64 << 20)  # malloc'd by ctypes, beyond the mmap threshold
    during = housekeeping.malloc_usage()
    del block
    after = housekeeping.malloc_usage()
    assert during is not None
    assert after is not None
    assert during[0] - before[0] >= 64 << 20
    assert during[0] - after[0] >= 64 << 20


def test_no_libc_no_malloc_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "_libc", lambda: None)
    assert housekeeping.malloc_usage() is None


def _in_a_thread(work: Callable[[], object]) -> object:
    """Run ``work`` on a thread of its own (a scheduling policy is per thread: the test
    process's own stays as it is) and return what it returned."""
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(work()))
    thread.start()
    thread.join(10)
    return found[0]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies only")
def test_batch_policy_for_the_thread_and_back() -> None:
    def work() -> tuple[bool, int, int, bool, int]:
        started = os.sched_getscheduler(0)
        on = schedule_as_batch(True)
        during = os.sched_getscheduler(0)
        inherited: list[int] = []
        child = threading.Thread(target=lambda: inherited.append(os.sched_getscheduler(0)))
        child.start()
        child.join(10)
        off = schedule_as_batch(False)
        return (on and started == os.SCHED_OTHER, during, inherited[0], off, os.sched_getscheduler(0))

    assert _in_a_thread(work) == (True, os.SCHED_BATCH, os.SCHED_BATCH, True, os.SCHED_OTHER)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's scheduling policies only")
def test_a_policy_chosen_at_start_up_is_left_alone() -> None:
    def work() -> tuple[bool, int]:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # as `chrt -i 0` would
        return schedule_as_batch(True), os.sched_getscheduler(0)

    assert _in_a_thread(work) == (False, os.SCHED_IDLE)


def test_no_scheduling_policies_no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_setscheduler", raising=False)
    assert schedule_as_batch(True) is False
