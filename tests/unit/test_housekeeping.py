"""The daemon's memory chores: malloc arenas capped, chores that fail do not stop others."""

from __future__ import annotations

import platform

import pytest
from idx_server import housekeeping
from idx_server.housekeeping import Housekeeping, limit_malloc_arenas


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
