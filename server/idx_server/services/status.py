"""``/+status``: version, serial, counts, sizes, plugins, metrics."""

from __future__ import annotations

import sys
import time
from typing import Any

import pluggy
from pyramid.request import Request

from idx_server import __version__
from idx_server.events import EventDispatcher
from idx_server.housekeeping import malloc_usage
from idx_server.plugins import plugin_versions
from idx_server.settings import Settings
from idx_server.storage import MetaStore


class StatusService:
    def __init__(
        self,
        store: MetaStore,
        settings: Settings,
        pm: pluggy.PluginManager,
        events: EventDispatcher,
        started: float,
        page_cache: Any,
    ) -> None:
        self.store = store
        self.settings = settings
        self.pm = pm
        self.events = events
        self.started = started
        self.page_cache = page_cache

    def metrics(self, request: Request | None) -> list[tuple[str, str, float]]:
        metrics: list[tuple[str, str, float]] = [
            ("idx_serial", "gauge", self.store.serial()),
            ("idx_uptime_seconds", "gauge", round(time.time() - self.started, 3)),
            ("idx_page_cache_hits", "counter", self.page_cache.hits),
            ("idx_page_cache_misses", "counter", self.page_cache.misses),
            ("idx_page_cache_bytes", "gauge", self.page_cache.size),
            ("idx_events_delivered", "counter", self.events.delivered),
            ("idx_events_failed", "counter", self.events.failed),
            ("idx_events_pending", "gauge", self.events.pending),
            ("idx_mirror_cache_bytes", "gauge", self.store.mirror_cache_size()),
            # Python's live objects: growing under a steady load means a leak in Python code.
            ("idx_python_allocated_blocks", "gauge", sys.getallocatedblocks()),
        ]
        malloc = malloc_usage()
        if malloc is not None:
            metrics.append(("idx_malloc_in_use_bytes", "gauge", malloc[0]))
            metrics.append(("idx_malloc_free_bytes", "gauge", malloc[1]))
        memory_metrics = getattr(self.store, "memory_metrics", None)
        if memory_metrics is not None:
            metrics.extend(memory_metrics())
        for contributed in self.pm.hook.idx_metrics(request=request):
            metrics.extend(contributed or [])
        return metrics

    def prometheus(self, request: Request | None) -> str:
        """The metrics in Prometheus' text format (``/+metrics``)."""
        lines = []
        for name, kind, value in self.metrics(request):
            lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name} {value}")
        counts = self.store.counts()
        lines.append("# TYPE idx_objects gauge")
        lines.extend(f'idx_objects{{kind="{kind}"}} {count}' for kind, count in sorted(counts.items()))
        return "\n".join(lines) + "\n"

    def status(self, request: Request | None) -> dict[str, Any]:
        return {
            "version": __version__,
            "versioninfo": {"idx-server": __version__, **plugin_versions(self.pm)},
            "plugins": plugin_versions(self.pm),
            "serverdir": str(self.settings.serverdir),
            "uuid": self.store.get_meta("uuid") or "",
            "host": self.settings.host,
            "port": self.settings.port,
            "outside-url": self.settings.outside_url or None,
            "serial": self.store.serial(),
            "event-serial": self.store.serial(),
            "role": "standalone",
            "offline": self.settings.offline,
            "counts": self.store.counts(),
            "mirror-cache-size": self.store.mirror_cache_size(),
            "started": self.started,
            "metrics": [list(metric) for metric in self.metrics(request)],
        }
