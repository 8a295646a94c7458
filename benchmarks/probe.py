"""Single timed HTTP requests (a new connection each, as a first request would be)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

HTML = "text/html"
JSON = "application/vnd.pypi.simple.v1+json"
#: Installers (pip, uv) accept compressed pages; so does every request made here.
ACCEPT_ENCODING = "gzip, deflate"
#: What pip sends (PEP 691: JSON preferred, HTML accepted).
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def request(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 120.0,
) -> Reply:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        found = {k.lower(): v for k, v in response.getheaders()}
        if found.get("content-encoding") in ("gzip", "deflate"):
            data = zlib.decompress(data, 47)  # 47: zlib or gzip header, detected
        return Reply(response.status, found, data, seconds)
    finally:
        conn.close()


def get(
    url: str, accept: str = "*/*", timeout: float = 120.0, headers: dict[str, str] | None = None
) -> Reply:
    sent = {"Accept": accept, "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
    return request("GET", url, headers=sent, timeout=timeout)


def send_json(method: str, url: str, data: Any, auth: dict[str, str], timeout: float = 120.0) -> Reply:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **auth}
    return request(method, url, headers=headers, body=json.dumps(data).encode(), timeout=timeout)


HREF = re.compile(rb'href="([^"]+)"')


def file_links(page_url: str, reply: Reply) -> dict[str, str]:
    """Filename -> absolute URL (fragment removed) of a simple page, HTML or JSON."""
    if "json" in reply.content_type:
        found = {f["filename"]: urljoin(page_url, f["url"]) for f in reply.json()["files"]}
    else:
        found = {}
        for href in HREF.findall(reply.body):
            url = urljoin(page_url, href.decode().replace("&amp;", "&"))
            found[url.split("#")[0].rsplit("/", 1)[-1]] = url
    return {name: url.split("#")[0] for name, url in found.items()}


def count_names(reply: Reply) -> int:
    """How many projects a root listing lists."""
    if "json" in reply.content_type:
        return len(reply.json()["projects"])
    return reply.body.count(b"<a ")
