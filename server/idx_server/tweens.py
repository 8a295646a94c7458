"""Tweens: one log line per request, and devpi's response headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from idx_server import __version__
from idx_server.storage import MetaStore

log = logging.getLogger("idx.request")

Handler = Callable[[Request], Response]

#: Sent with every HTML response unless a view set its own (a web UI sets a fuller CSP).
HTML_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def request_tween_factory(handler: Handler, registry: Registry) -> Handler:
    store: MetaStore = registry["idx.store"]
    uuid = store.get_meta("uuid") or ""

    def request_tween(request: Request) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = handler(request)
            status = response.status_int
            headers = response.headers
            headers["X-Idx-Serial"] = headers["X-Devpi-Serial"] = str(store.serial())
            headers["X-Devpi-Api-Version"] = "2"
            headers["X-Devpi-Server-Version"] = __version__
            headers["X-Devpi-Uuid"] = uuid
            headers.setdefault("X-Content-Type-Options", "nosniff")
            if (response.content_type or "").endswith("html"):
                for name, value in HTML_SECURITY_HEADERS:
                    headers.setdefault(name, value)
            return response
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            log.info("%s %s %d %.1fms", request.method, request.path_qs, status, elapsed)

    return request_tween


def includeme(config: Configurator) -> None:
    config.add_tween("idx_server.tweens.request_tween_factory")
