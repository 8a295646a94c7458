"""Fixtures: the plugin registered in process, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from idx_webhooks.plugin import WebhooksPlugin


@pytest.fixture
def webhooks() -> Iterator[WebhooksPlugin]:
    plugin = WebhooksPlugin()
    yield plugin
    if plugin.service is not None:
        plugin.service.close()


@pytest.fixture
def idx_plugins(webhooks: WebhooksPlugin) -> tuple[object, ...]:
    return (webhooks,)


@pytest.fixture
def idx_settings_overrides() -> dict[str, Any]:
    # Fast retries; loopback receivers are allowed by the default blocked networks.
    return {"webhooks_backoff": "0.05", "webhooks_retries": "2", "webhooks_timeout": "5"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers the statuses in ``script`` first, then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    #: Seconds each answer waits (after the request was recorded).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook requests, got {len(self.requests)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = state.script.pop(0) if state.script else 200
            time.sleep(state.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)
