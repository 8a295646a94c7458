"""HTTP to upstream indexes: one pooled client, timeouts, bounded retries, proxies from
the environment, credentials from the URL sent as Basic auth and never shown."""

from __future__ import annotations

import base64
import logging
import threading
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from idx_server.model.errors import IdxError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger("idx.upstream")


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def split_credentials(url: str) -> tuple[str, str | None]:
    """(url without credentials, Basic auth header value or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username)
    password = unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return clean, "Basic " + token


ACCEPT_PAGES = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)
#: The full project list is parsed as a stream; HTML streams well, so prefer it there.
ACCEPT_LIST = (
    "application/vnd.pypi.simple.v1+html, text/html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.5"
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class UpstreamClient:
    """One pooled, thread-safe HTTP client for all upstream requests of a server."""

    def __init__(
        self, connect_timeout: float, read_timeout: float, retries: int, user_agent: str, pool_size: int = 16
    ) -> None:
        import urllib3

        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.retries = retries
        self.user_agent = user_agent
        # As many kept-alive connections per upstream host as threads that may use them:
        # a connection thrown away is a new TCP (and TLS) handshake for the next request.
        self.pool_size = pool_size
        self._direct = urllib3.PoolManager(num_pools=32, maxsize=pool_size, block=False)
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()
        #: The proxy (or None) per (scheme, host), from the environment (``https_proxy``,
        #: ``no_proxy``, ...) as it was at the first request there: reading it scans the
        #: whole environment, which cost a cold page a tenth of its time.
        self._proxy_for: dict[tuple[str, str], str | None] = {}

    def _manager(self, url: str) -> Any:
        import urllib3

        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key in self._proxy_for:
            proxy = self._proxy_for[key]
        else:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and urllib.request.proxy_bypass(key[1]):
                proxy = None
            self._proxy_for[key] = proxy
        if not proxy:
            return self._direct
        with self._lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = urllib3.ProxyManager(
                    proxy, num_pools=32, maxsize=self.pool_size
                )
            return manager

    def _retry(self) -> Any:
        import urllib3

        return urllib3.Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            redirect=5,
            backoff_factor=0.3,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )

    def get(
        self, url: str, headers: dict[str, str] | None = None, auth: str | None = None, stream: bool = False
    ) -> Any:
        """GET ``url``; returns the urllib3 response (``stream``: body not read yet, and
        not decoded: a file's bytes arrive exactly as upstream stores them).

        Raises UpstreamUnavailable (cannot connect), UpstreamTimeout, UpstreamError.
        """
        import urllib3

        encoding = "identity" if stream else "gzip, deflate"
        all_headers = {"User-Agent": self.user_agent, "Accept-Encoding": encoding, **(headers or {})}
        if auth:
            all_headers["Authorization"] = auth
        try:
            return self._manager(url).request(
                "GET",
                url,
                headers=all_headers,
                timeout=self.timeout,
                retries=self._retry(),
                preload_content=not stream,
                decode_content=not stream,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise _translate(url, exc.reason or exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _translate(url, exc) from None

    def close(self) -> None:
        self._direct.clear()
        with self._lock:
            for manager in self._proxied.values():
                manager.clear()


def _translate(url: str, exc: BaseException) -> IdxError:
    import urllib3

    where = redact_url(url)
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: check it first.
    if isinstance(
        exc, urllib3.exceptions.NewConnectionError | ConnectionError | urllib3.exceptions.ProtocolError
    ):
        return UpstreamUnavailable(f"upstream {where} cannot be reached ({_short(exc)})")
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return UpstreamTimeout(f"upstream {where} did not answer in time")
    return UpstreamError(f"upstream {where} failed ({_short(exc)})")


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 messages repeat the URL (with any credentials); keep the reason only.
    return text.rsplit(": ", 1)[-1][:200] if text else type(exc).__name__


def final_url(url: str, response: Any) -> str:
    """The URL a response finally came from, following redirects (for relative links)."""
    from urllib.parse import urljoin

    retries = getattr(response, "retries", None)
    for step in getattr(retries, "history", ()) or ():
        if step.redirect_location:
            url = urljoin(url, step.redirect_location)
    return url
