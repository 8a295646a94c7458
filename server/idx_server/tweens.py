"""Tweens: one log line per request, and devpi's response headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from idx_server.accesslog import STARTED, AccessLog
from idx_server.render.headers import server_headers
from idx_server.storage import MetaStore

Handler = Callable[[Request], Response]


def request_tween_factory(handler: Handler, registry: Registry) -> Handler:
    store: MetaStore = registry["idx.store"]
    access_log: AccessLog = registry["idx.access_log"]
    uuid = store.get_meta("uuid") or ""

    def request_tween(request: Request) -> Response:
        start = request.environ.get(STARTED) or time.perf_counter()
        status = 500
        try:
            response = handler(request)
            status = response.status_int
            headers = response.headers
            for name, value in server_headers(store.serial(), uuid, response.content_type or ""):
                headers.setdefault(name, value)
            return response
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            access_log.record(request.method, logged_path(request), status, elapsed)

    return request_tween


def logged_path(request: Request) -> str:
    """The path and query as sent, percent-encoded (``request.path_qs`` raises on a path
    that is not UTF-8, e.g. ``/%FF``: that would turn any answer into a 500)."""
    environ = request.environ
    path = quote(
        (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace"),
        safe=_SAFE,
    )
    query = quote(environ.get("QUERY_STRING", "").encode("latin-1", "replace"), safe=_SAFE + "%?")
    return f"{path}?{query}" if query else path


_SAFE = "/~!$&'()*+,;=:@"


def includeme(config: Configurator) -> None:
    config.add_tween("idx_server.tweens.request_tween_factory")
