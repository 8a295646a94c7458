"""The delivery log: one JSON line per state change in ``{serverdir}/+webhooks/deliveries.jsonl``
and, in memory, the latest state of each index's recent deliveries (for ``+webhooks``)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idx_server.mirror.upstream import redact_url

from idx_webhooks.delivery import Delivery, Outcome

log = logging.getLogger("idx.webhooks")

#: Deliveries kept in memory per index.
RECENT = 100
#: The log file is moved to ``deliveries.jsonl.1`` (replacing it) past this size.
MAX_LOG_BYTES = 10 * 1024 * 1024


class DeliveryLog:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "deliveries.jsonl"
        self._recent: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._replay()

    def record(self, delivery: Delivery, state: str, outcome: Outcome | None) -> None:
        entry: dict[str, Any] = {
            "id": delivery.id,
            "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "index": delivery.index,
            "event": delivery.event,
            "url": redact_url(delivery.url),
            "state": state,
            "attempts": delivery.attempts,
        }
        if outcome is not None:
            entry["http_status"] = outcome.http_status
            entry["error"] = outcome.error
            entry["duration_ms"] = outcome.duration_ms
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self._remember(entry)
            try:
                self._rotate()
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError:
                log.exception("cannot write the webhook log %s", self.path)

    def recent(self, index: str) -> list[dict[str, Any]]:
        """The latest state of the index's recent deliveries, newest first."""
        with self._lock:
            entries = self._recent.get(index)
            return [dict(entry) for entry in reversed(entries.values())] if entries else []

    def _remember(self, entry: dict[str, Any]) -> None:
        entries = self._recent.setdefault(entry["index"], OrderedDict())
        first = entries.pop(entry["id"], None)
        entries[entry["id"]] = {**entry, "first_time": first["first_time"] if first else entry["time"]}
        while len(entries) > RECENT:
            entries.popitem(last=False)

    def _rotate(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size > MAX_LOG_BYTES:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))

    def _replay(self) -> None:
        """Fill the recent deliveries from the log, so a restart keeps them visible.

        Deliveries the log shows as pending or retrying were lost with the process
        that ran them; they are shown as ``interrupted``.
        """
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
                self._remember(entry)
            except (ValueError, KeyError, TypeError):
                continue
        for entries in self._recent.values():
            for entry in entries.values():
                if entry.get("state") in ("pending", "retrying"):
                    entry["state"] = "interrupted"
