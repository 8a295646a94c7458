"""The event dispatcher: delivery in order, the pending count, and a shutdown that never
runs a hook after it returned (found by benchmarks/soak.py: a backlog of upload events
was delivered against the closed store, one traceback per event and plugin)."""

from __future__ import annotations

import logging
import threading
import time

import pluggy
from idx_server import hookimpl, hookspecs
from idx_server.events import Event, EventDispatcher


class SlowPlugin:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.seen: list[int] = []
        self.started = threading.Event()

    @hookimpl
    def idx_release_uploaded(self, event: Event) -> None:
        self.started.set()
        time.sleep(self.delay)
        self.seen.append(event.serial)


def dispatcher(plugin: SlowPlugin) -> EventDispatcher:
    pm = pluggy.PluginManager("idx")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, "slow")
    return EventDispatcher(pm)


def uploaded(serial: int) -> Event:
    return Event("release_uploaded", serial, "2026-12-01T00:00:00Z", "u/i", "p", f"1.{serial}")


def test_events_are_delivered_in_order_and_pending_goes_back_to_zero():
    plugin = SlowPlugin(0.0)
    events = dispatcher(plugin)
    for serial in range(1, 6):
        events.emit(uploaded(serial))
    assert events.wait(5)
    assert plugin.seen == [1, 2, 3, 4, 5]
    assert events.pending == 0
    events.stop()
    assert events.dropped == 0


def test_a_backlog_at_shutdown_is_dropped_with_one_warning(caplog):
    plugin = SlowPlugin(0.05)
    events = dispatcher(plugin)
    for serial in range(1, 201):
        events.emit(uploaded(serial))
    assert plugin.started.wait(5)
    assert events.pending > 100
    with caplog.at_level(logging.WARNING, logger="idx.events"):
        events.stop(timeout=0.2)
    delivered = list(plugin.seen)
    time.sleep(0.2)
    assert plugin.seen == delivered, "a hook ran after stop() returned"
    assert events.dropped == 200 - len(delivered)
    assert events.dropped > 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "idx.events"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{events.dropped} events were still queued at shutdown")
