"""Time, formatted the way the APIs want it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_iso() -> str:
    """The current UTC time as PEP 700 wants it: ``2026-12-01T04:07:19.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_from_timestamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float | None:
    """Seconds since the epoch from an ISO 8601 time, or None if it cannot be read."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def devpi_when(iso: str) -> list[int]:
    """devpi's log timestamp shape: ``[year, month, day, hour, minute, second]``."""
    timestamp = parse_iso(iso) or time.time()
    value = datetime.fromtimestamp(timestamp, UTC)
    return [value.year, value.month, value.day, value.hour, value.minute, value.second]
