"""Checks of the soak test's analysis (no servers): ``pytest benchmarks/``."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest
from soak_report import (
    Sample,
    backlog,
    flatness,
    latency_summary,
    markdown,
    parse_server_log,
    per_minute,
    percentile,
    server_errors,
    verdict,
)
from soak_workers import requirement_window

EPOCH = time.mktime(time.strptime("2026-12-01 04:25:00", "%Y-%m-%d %H:%M:%S"))

LOG = """\
idx-server 0.1.0 listening on http://127.0.0.1:8000/ (serverdir /tmp/x, root/pypi mirrors ...)
2026-12-01 04:25:01,500 INFO idx.request: GET /bench/soak/+simple/six/ 200 0.4ms
2026-12-01 04:25:02,000 INFO idx.request: GET /root/pypi/+f/abc/def0123456789/six-1-py3-none-any.whl 200 3.5ms
2026-12-01 04:25:02,100 INFO idx.request: GET /root/pypi/+f/abc/def0123456789/six.whl.metadata 200 1.0ms
2026-12-01 04:26:05,000 INFO idx.request: POST /bench/soak/ 503 12.0ms
2026-12-01 04:26:05,001 ERROR idx.views: storage failed
Traceback (most recent call last):
sqlite3.OperationalError: database is locked
2026-12-01 04:26:06,000 WARNING waitress.queue: Task queue depth is 2
"""


def test_the_log_is_read_into_requests_and_problems():
    found = parse_server_log(LOG.splitlines(keepends=True), EPOCH)
    assert [(r.method, r.status, r.ms) for r in found.requests] == [
        ("GET", 200, 0.4),
        ("GET", 200, 3.5),
        ("GET", 200, 1.0),
        ("POST", 503, 12.0),
    ]
    assert found.requests[0].at == pytest.approx(1.5)
    assert [r.category for r in found.requests] == [
        "simple pages",
        "files",
        "file metadata (PEP 658)",
        "writes (upload, push, yank)",
    ]
    assert found.locked_count == 1
    assert found.error_count == 1
    assert found.tracebacks == 1
    assert found.warnings == {"waitress.queue": 1}
    assert [r.status for r in server_errors(found.requests)] == [503]


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))
    assert latency_summary([3.0, 1.0, 2.0])["max"] == 3.0


def _samples(rss: list[float], every: float = 10.0) -> list[Sample]:
    return [Sample(i * every, value, value, 68, 300, 0.0, 1.0) for i, value in enumerate(rss)]


def test_memory_is_flat_when_the_second_half_did_not_grow():
    # Warm-up (the first third: 0-36 s) grows fast; afterwards it wobbles around 240 MiB.
    found = flatness(_samples([100, 200, 230, 240, 242, 239, 241, 240, 243, 241, 240, 242]), 30, 5.0)
    assert found.flat is True
    assert found.samples == 8
    assert found.warmup_s == pytest.approx(110 / 3)
    assert abs(found.growth_pct) < 2


def test_caches_filling_in_the_first_third_are_not_a_leak():
    # Like the 15-minute soak: up 8 % while the caches fill, level afterwards.
    rss = [116 + 9 * min(i, 30) / 30 for i in range(90)]
    assert flatness(_samples(rss), 60, 5.0).flat is True


def test_a_leak_after_the_caches_filled_is_caught():
    # Level after the fill, then 0.4 MiB/min of growth for the rest of an hour.
    rss = [125 + (0.4 * max(0, i - 120) / 6 if i > 120 else 0) for i in range(360)]
    found = flatness(_samples(rss), 60, 5.0)
    assert found.flat is False
    assert found.growth_pct > 5


def test_a_longer_warmup_option_wins_over_the_third():
    found = flatness(_samples([100.0] * 30), 200, 5.0)
    assert found.warmup_s == 200
    assert found.samples == 10


def test_memory_growing_steadily_is_not_flat():
    found = flatness(_samples([200 + 5 * i for i in range(30)]), 30, 5.0)
    assert found.flat is False
    assert found.slope_mib_per_min == pytest.approx(30.0)


def test_too_few_samples_leave_the_verdict_open():
    assert flatness(_samples([100, 100, 100]), 0, 5.0).flat is None


def test_per_minute_buckets_requests_and_samples():
    found = parse_server_log(LOG.splitlines(keepends=True), EPOCH)
    rows = per_minute(found.requests, _samples([100.0] * 9))
    assert [(r["minute"], r["requests"], r["5xx"]) for r in rows] == [(0, 3, 0), (1, 1, 1)]
    assert rows[0]["rss_mib"] == 100.0


def test_the_rotating_windows_cover_the_set_and_wrap():
    reqs = tuple(f"p{i}==1" for i in range(5))
    assert requirement_window(reqs, 0, 0, 3) == ["p0==1", "p1==1", "p2==1"]
    assert requirement_window(reqs, 0, 1, 3) == ["p3==1", "p4==1", "p0==1"]
    assert len(requirement_window(reqs, 2, 7, 10)) == 5


def test_a_failed_run_fails_the_verdict_and_shows_in_the_report():
    memory = flatness(_samples([100.0] * 12), 0, 5.0)
    result = {
        "client_errors": 1,
        "server": {
            "5xx": 0,
            "locked_count": 0,
            "error_count": 0,
            "tracebacks": 0,
            "alive_at_end": True,
            "5xx_examples": [],
            "locked_examples": [],
            "error_examples": [],
            "warnings": {},
            "warning_examples": [],
            "statuses": {"200": 10},
            "latency_ms": {"all requests": latency_summary([1.0, 2.0])},
            "latency_after_warmup_ms": latency_summary([1.0]),
            "cpu_cores_used": 0.1,
            "requests": 10,
        },
        "memory": memory.__dict__,
    }
    checks = verdict(result)
    assert [c.name for c in checks if c.passed is False] == ["client errors"]
    result.update(
        verdict=[c.__dict__ for c in checks],
        passed=False,
        clients={"pip download": {"runs": 2, "failed": 1, **latency_summary([1.0, 2.0])}},
        failures=[
            {"worker": "installer-01", "kind": "pip download", "at": 12.0, "detail": "exit 1", "log": "e.log"}
        ],
        canary={"project": "six", "requests": 5, "failed": 0, "after_warmup_ms": latency_summary([1.0])},
        per_minute=[],
        load_average_mean=1.0,
        meta={
            "started": "now",
            "wall_seconds": 10.0,
            "command": "soak",
            "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 1, "os": "os"},
            "load_start": "0",
            "load_end": "0",
            "idx": "idx-server 0",
            "idx_start_seconds": 1.0,
            "clients": {"pip": "pip 1"},
            "upstream_requests": 3,
            "settings": {
                "installers": 1,
                "uploaders": 1,
                "subset": 3,
                "duration": 10,
                "latency": "30ms",
                "sample_every": 2,
            },
        },
    )
    text = markdown(result)
    assert "## Soak: FAILED" in text
    assert "| client errors | 1 | 0 | **FAIL** |" in text
    assert "installer-01 `pip download` at 12 s: exit 1 (e.log)" in text


def _pending(values: list[int]) -> list[Sample]:
    return [Sample(i * 10.0, 100, 100, 68, 300, 0.0, 1.0, value) for i, value in enumerate(values)]


def test_a_growing_event_backlog_is_reported_as_not_keeping_up():
    assert backlog(_pending([0, 3, 0, 2, 0, 5, 1, 0, 0]), 0).keeping_up is True
    growing = backlog(_pending([10 * i for i in range(12)]), 0)
    assert growing.keeping_up is False
    assert (growing.peak, growing.at_end) == (110, 110)
    assert backlog([Sample(0, 1, 1, 1, 1, 0, 0)] * 9, 0).keeping_up is None
