"""HTTP for the client (urllib3): requests, responses, and server errors as types."""

from __future__ import annotations

import ipaddress
import json
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3.util.retry import Retry

from idx_client import __version__
from idx_client.errors import ClientError, ConnectionFailed

USER_AGENT = f"idx-client/{__version__}"
DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=120.0)
#: Uploads: the server checks and stores the whole file before it answers.
UPLOAD_TIMEOUT = urllib3.Timeout(connect=10.0, read=900.0)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})

Body = bytes | Iterable[bytes] | None


@dataclass(frozen=True)
class Response:
    method: str
    url: str
    status: int
    reason: str
    body: bytes
    #: Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").split(";")[0].strip() == "application/json"

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            kind = self.headers.get("content-type", "no content type")
            raise ClientError(
                f"{self.method} {self.url}: expected JSON from the server, got {kind} "
                f"(HTTP {self.status}); is this an idx or devpi server?"
            ) from None

    @property
    def result(self) -> Any:
        """The ``result`` of devpi's JSON envelope."""
        data = self.json()
        return data.get("result") if isinstance(data, dict) else None

    @property
    def message(self) -> str:
        """The envelope's ``message`` (or the plain-text body) for a person."""
        if self.is_json:
            try:
                data = json.loads(self.body)
            except (ValueError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                return str(data["message"])
        text = self.body.decode("utf-8", "replace").strip()
        if text and not self.is_json and not text.startswith("<"):
            return " ".join(text.split())[:500]
        return self.reason or f"HTTP {self.status}"


class ServerError(ClientError):
    """The server answered with an error status."""

    def __init__(self, response: Response, hint: str = "") -> None:
        self.response = response
        self.status = response.status
        text = f"{response.message} (HTTP {response.status} from {response.method} {response.url})"
        super().__init__(f"{text}; {hint}" if hint else text)


class Transport(Protocol):
    """What sends a request (a seam: tests pass a fake)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        timeout: urllib3.Timeout | None = None,
    ) -> Response: ...


class HttpClient:
    """A :class:`Transport` over urllib3, honouring the ``*_proxy`` environment variables."""

    def __init__(self, timeout: urllib3.Timeout = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._direct = urllib3.PoolManager()
        self._proxies: dict[str, urllib3.ProxyManager] = {}

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        timeout: urllib3.Timeout | None = None,
    ) -> Response:
        method = method.upper()
        idempotent = method in _IDEMPOTENT
        retries = Retry(
            total=None,
            connect=1,
            read=2 if idempotent else 0,
            status=0,
            other=0,
            redirect=5 if idempotent else 0,
            raise_on_redirect=False,
            raise_on_status=False,
        )
        try:
            raw = self._pool_for(url).request(
                method,
                url,
                body=body,
                headers={"User-Agent": USER_AGENT, **(headers or {})},
                retries=retries,
                redirect=idempotent,
                timeout=timeout or self.timeout,
                preload_content=True,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise ConnectionFailed(url, _reason(exc.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(url, _reason(exc)) from None
        final_url = raw.geturl() or url
        if final_url.startswith("/"):
            parts = urlsplit(url)
            final_url = f"{parts.scheme}://{parts.netloc}{final_url}"
        return Response(
            method=method,
            url=final_url,
            status=raw.status,
            reason=raw.reason or "",
            body=raw.data,
            headers={name.lower(): value for name, value in raw.headers.items()},
        )

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        host = parts.hostname or ""
        proxy = urllib.request.getproxies().get(parts.scheme)
        if not proxy or _is_loopback(host) or urllib.request.proxy_bypass(host):
            return self._direct
        manager = self._proxies.get(proxy)
        if manager is None:
            manager = self._proxies[proxy] = urllib3.ProxyManager(proxy)
        return manager

    def close(self) -> None:
        self._direct.clear()
        for manager in self._proxies.values():
            manager.clear()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(exc: object) -> str:
    """A short reason from urllib3's wrapped exceptions ("Connection refused", ...)."""
    text = str(exc)
    for marker in ("Failed to establish a new connection: ", "Failed to resolve "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip().rstrip(")").strip() or type(exc).__name__
