"""The idx-server hooks of idx-webhooks.

The entry point is ``plugin``, one :class:`WebhooksPlugin`; tests register fresh
instances (``idx_plugins = (WebhooksPlugin(),)``), one per server they build.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from idx_server import hookimpl
from idx_server.events import Event
from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidInput
from idx_server.model.indexes import ConfigKey, IndexType
from idx_server.settings import Setting, Settings
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from idx_webhooks.delivery import STOP_DRAIN_SECONDS, Deliverer, Delivery, Outcome, send
from idx_webhooks.deliverylog import DeliveryLog

log = logging.getLogger("idx.webhooks")

#: idx event -> the ``event`` of the JSON body.
EVENT_NAMES = {
    "release_uploaded": "upload",
    "pushed": "push",
    "release_yanked": "yank",
    "release_deleted": "delete",
}
REGISTRY_KEY = "idx_webhooks.service"


def _parse_urls(value: Any, name: str) -> list[str]:
    urls = cv.parse_str_list(value, name)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"{name}: expected http:// or https:// URLs, got {url!r}")
    return urls


def _parse_seconds(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}: expected a number of seconds, got {value!r}") from None
    if seconds < 0:
        raise InvalidInput(f"{name}: cannot be negative")
    return seconds


CONFIG_KEYS = (
    ConfigKey(
        "webhook_urls",
        cv.ValueKind("list", _parse_urls, is_list=True),
        [],
        "URLs that get a signed JSON POST after each upload, push, yank and delete (idx-webhooks).",
    ),
    ConfigKey(
        "webhook_secret",
        cv.STR,
        "",
        "Key of the X-Idx-Signature HMAC-SHA256 of each webhook body; shown redacted (idx-webhooks).",
        secret=True,
    ),
)

SETTINGS = (
    Setting("webhooks_timeout", cv.DURATION, 10, "Seconds one webhook attempt may take (idx-webhooks)."),
    Setting(
        "webhooks_retries",
        cv.INT,
        5,
        "Attempts after the first for a failed webhook delivery (idx-webhooks).",
    ),
    Setting(
        "webhooks_backoff",
        cv.ValueKind("seconds", _parse_seconds),
        2.0,
        "Seconds before the first retry of a webhook; doubled for each next one (idx-webhooks).",
    ),
    Setting(
        "webhooks_blocked_networks",
        cv.NETWORK_LIST,
        ["169.254.0.0/16", "fe80::/10", "0.0.0.0/8"],
        "Networks webhooks are never sent to (link-local: cloud metadata services) (idx-webhooks).",
    ),
)


class WebhookService:
    """Turns events into deliveries for one running server."""

    def __init__(self, core: Any, settings: Settings) -> None:
        self.core = core
        self.settings = settings
        self.log = DeliveryLog(settings.serverdir / "+webhooks")
        blocked = [ipaddress.ip_network(n, strict=False) for n in settings.get("webhooks_blocked_networks")]
        sender: Callable[[Delivery], Outcome] = partial(
            send, timeout=float(settings.get("webhooks_timeout")), blocked=blocked
        )
        self.deliverer = Deliverer(
            sender,
            self.log.record,
            retries=int(settings.get("webhooks_retries")),
            backoff=float(settings.get("webhooks_backoff")),
        )
        #: The public base URL of the last write request, for files an event names by path.
        self.seen_base_url = ""

    def handle(self, event: Event) -> None:
        from idx_server.services.indexes import IndexService

        user, _, name = event.index.partition("/")
        index = self.core.service(IndexService).find(user, name)
        urls = (index.config.get("webhook_urls") or []) if index is not None else []
        if not urls:
            return
        body = json.dumps(self.payload(event), sort_keys=True, separators=(",", ":")).encode()
        secret = str(index.config.get("webhook_secret") or "")
        for url in urls:
            delivery = Delivery(uuid.uuid4().hex, event.index, EVENT_NAMES[event.name], url, body, secret)
            self.deliverer.submit(delivery)

    def payload(self, event: Event) -> dict[str, Any]:
        base = (self.settings.outside_url or self.seen_base_url).rstrip("/")
        data: dict[str, Any] = {
            "event": EVENT_NAMES[event.name],
            "index": event.index,
            "project": event.project,
            "version": event.version,
            "files": [
                {"filename": f["filename"], "sha256": f["sha256"], "url": f.get("url") or base + f["path"]}
                for f in event.files
            ],
            "user": event.user,
            "time": event.time,
            "serial": event.serial,
        }
        if event.name == "release_yanked":
            data["event"] = "yank" if event.payload.get("yanked") else "unyank"
            data["reason"] = event.payload.get("reason", "")
        if event.name == "pushed":
            data["source"] = event.payload.get("source", "")
        return data

    def close(self, drain: float = 0.0) -> None:
        """Stop delivering; with ``drain``, first send what is due, for up to that long."""
        self.deliverer.stop(drain)


def base_url_tween_factory(handler: Callable[[Request], Response], registry: Registry) -> Any:
    """Remember the public base URL of write requests (events name files by path)."""
    from idx_server.views.common import outside_url

    service: WebhookService = registry[REGISTRY_KEY]

    def tween(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            service.seen_base_url = outside_url(request)
        return handler(request)

    return tween


class WebhooksPlugin:
    """The hook implementations; holds the service of the server it was configured for."""

    def __init__(self) -> None:
        self.service: WebhookService | None = None

    @hookimpl
    def idx_add_settings(self) -> list[Setting]:
        return list(SETTINGS)

    @hookimpl
    def idx_index_config_keys(self, index_type: IndexType) -> list[ConfigKey]:
        # Only indexes that take uploads have uploads, pushes, yanks and deletes to report.
        return list(CONFIG_KEYS) if index_type.accepts_uploads else []

    @hookimpl
    def idx_configure(self, config: Configurator) -> None:
        if self.service is not None:
            self.service.close()
        self.service = WebhookService(config.registry["idx.core"], config.registry["idx.settings"])
        config.registry[REGISTRY_KEY] = self.service
        config.add_tween("idx_webhooks.plugin.base_url_tween_factory")
        config.add_route(
            "webhooks",
            "/{user:[^+/][^/]*}/{index:[^+/][^/]*}/+webhooks",
            factory="idx_server.resources.IndexResource",
        )
        config.scan("idx_webhooks.views")

    def _handle(self, event: Event) -> None:
        if self.service is not None:
            self.service.handle(event)

    @hookimpl
    def idx_release_uploaded(self, event: Event) -> None:
        self._handle(event)

    @hookimpl
    def idx_pushed(self, event: Event) -> None:
        self._handle(event)

    @hookimpl
    def idx_release_yanked(self, event: Event) -> None:
        self._handle(event)

    @hookimpl
    def idx_release_deleted(self, event: Event) -> None:
        self._handle(event)

    @hookimpl
    def idx_shutdown(self) -> None:
        # Called after the last event reached the hooks: what they queued is sent first.
        if self.service is not None:
            self.service.close(drain=STOP_DRAIN_SECONDS)
            self.service = None

    @hookimpl
    def idx_metrics(self) -> list[tuple[str, str, float]]:
        if self.service is None:
            return []
        deliverer = self.service.deliverer
        return [
            ("webhooks_delivered", "counter", deliverer.delivered),
            ("webhooks_failed", "counter", deliverer.failed),
            ("webhooks_pending", "gauge", deliverer.pending),
        ]


plugin = WebhooksPlugin()
