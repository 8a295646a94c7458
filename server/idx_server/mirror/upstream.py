"""HTTP to upstream indexes: one pooled client, timeouts, bounded retries, proxies from
the environment, credentials from the URL sent as Basic auth and never shown."""

from __future__ import annotations

import base64
import logging
import urllib.request
from urllib.parse import urlsplit, urlunsplit

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
    user = urllib.request.unquote(parts.username)
    password = urllib.request.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return clean, "Basic " + token
