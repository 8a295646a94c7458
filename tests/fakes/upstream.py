"""A small fake upstream index (PEP 503 HTML and PEP 691 JSON) on a thread, for mirror tests.

It serves projects made of generated (or given) distributions, counts every request,
and can be told to be slow, to fail, to lie about a file's hash, or to go away.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from idx_server.testing.dists import Dist, Project, make_sdist, make_wheel
from packaging.utils import canonicalize_name

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class UpstreamFile:
    dist: Dist
    upload_time: str = "2024-01-01T00:00:00.000000Z"
    requires_python: str = ""
    yanked: bool | str = False
    #: Serve these bytes instead of the real ones (a corrupt mirror).
    corrupt_with: bytes | None = None
    #: Advertise PEP 658 metadata (served at <file>.metadata).
    core_metadata: bool = True

    @property
    def filename(self) -> str:
        return self.dist.filename


@dataclass
class UpstreamProject:
    name: str
    files: list[UpstreamFile] = field(default_factory=list)
    status: str = ""


class FakeUpstream:
    """``url`` is the simple index root (ends with /simple/)."""

    def __init__(
        self, formats: Iterable[str] = ("json", "html"), require_auth: tuple[str, str] | None = None
    ) -> None:
        self.projects: dict[str, UpstreamProject] = {}
        self.formats = set(formats)
        self.require_auth = require_auth
        self.requests: Counter[str] = Counter()
        self.request_log: list[tuple[str, dict[str, str]]] = []
        self.delay = 0.0
        #: Per-path delays, e.g. {"/files/x.whl": 2.0}.
        self.path_delays: dict[str, float] = {}
        self.fail_status: int | None = None
        self.send_etags = True
        self.chunk_delay = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    # -- content -------------------------------------------------------------------------
    def add(
        self,
        name: str,
        version: str = "1.0",
        *,
        wheel: bool = True,
        sdist: bool = False,
        requires_python: str = "",
        upload_time: str = "2024-01-01T00:00:00.000000Z",
        requires_dist: list[str] | None = None,
        code: str = "VALUE = 42\n",
        **file_options: Any,
    ) -> list[UpstreamFile]:
        project = Project(
            name, version, requires_python=requires_python, requires_dist=requires_dist or [], code=code
        )
        added = []
        if wheel:
            added.append(UpstreamFile(make_wheel(project), upload_time, requires_python, **file_options))
        if sdist:
            added.append(UpstreamFile(make_sdist(project), upload_time, requires_python, **file_options))
        entry = self.projects.setdefault(canonicalize_name(name), UpstreamProject(name))
        entry.files.extend(added)
        return added

    def add_dist(self, name: str, dist: Dist, **options: Any) -> UpstreamFile:
        entry = self.projects.setdefault(canonicalize_name(name), UpstreamProject(name))
        upstream_file = UpstreamFile(dist, **options)
        entry.files.append(upstream_file)
        return upstream_file

    def file(self, filename: str) -> UpstreamFile:
        for project in self.projects.values():
            for upstream_file in project.files:
                if upstream_file.filename == filename:
                    return upstream_file
        raise KeyError(filename)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/simple/"

    def start(self, port: int = 0) -> FakeUpstream:
        upstream = self

        class Handler(_Handler):
            owner = upstream

        self._server = ThreadingHTTPServer(("127.0.0.1", port or self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away like a dead upstream: stop listening and drop open connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def count(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    def file_requests(self, filename: str) -> int:
        return self.requests.get(f"/files/{filename}", 0)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.request_log.clear()

    # -- rendering -----------------------------------------------------------------------
    def project_json(self, project: UpstreamProject) -> bytes:
        files = []
        for f in project.files:
            entry: dict[str, Any] = {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": f.dist.sha256},
                "size": len(f.dist.content),
                "upload-time": f.upload_time,
                "yanked": f.yanked,
            }
            if f.requires_python:
                entry["requires-python"] = f.requires_python
            if f.core_metadata and f.dist.metadata:
                entry["core-metadata"] = {"sha256": hashlib.sha256(f.dist.metadata).hexdigest()}
            files.append(entry)
        versions = sorted({_version(f.filename) for f in project.files})
        data: dict[str, Any] = {
            "meta": {"api-version": "1.1", "_last-serial": 1},
            "name": canonicalize_name(project.name),
            "files": files,
            "versions": versions,
        }
        if project.status:
            data["meta"]["api-version"] = "1.4"
            data["project-status"] = {"status": project.status}
        return json.dumps(data).encode()

    def project_html(self, project: UpstreamProject) -> bytes:
        lines = ["<!DOCTYPE html><html><head>", '<meta name="pypi:repository-version" content="1.0">']
        lines.append(f"<title>Links for {html.escape(project.name)}</title></head><body>")
        for f in project.files:
            attrs = f' href="../../files/{f.filename}#sha256={f.dist.sha256}"'
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.yanked is not False:
                attrs += f' data-yanked="{html.escape(f.yanked if isinstance(f.yanked, str) else "")}"'
            if f.core_metadata and f.dist.metadata:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(f.dist.metadata).hexdigest()}"'
            lines.append(f"<a{attrs}>{html.escape(f.filename)}</a><br/>")
        lines.append("</body></html>")
        return "\n".join(lines).encode()

    def index_json(self) -> bytes:
        return json.dumps(
            {"meta": {"api-version": "1.1"}, "projects": [{"name": p.name} for p in self.projects.values()]}
        ).encode()

    def index_html(self) -> bytes:
        links = "".join(
            f'<a href="{canonicalize_name(p.name)}/">{html.escape(p.name)}</a>\n'
            for p in self.projects.values()
        )
        return f"<!DOCTYPE html><html><body>{links}</body></html>".encode()


def _version(filename: str) -> str:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


class _Handler(BaseHTTPRequestHandler):
    owner: FakeUpstream
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner._connections.add(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        owner = self.owner
        path = unquote(urlsplit(self.path).path)
        with owner._lock:
            owner.requests[path] += 1
            owner.request_log.append((path, dict(self.headers.items())))
        delay = owner.path_delays.get(path, owner.delay)
        if delay:
            time.sleep(delay)
        if owner.require_auth and not self._authorized(owner.require_auth):
            self._send(401, b"unauthorized", "text/plain", {"WWW-Authenticate": 'Basic realm="fake"'})
            return
        if owner.fail_status:
            self._send(owner.fail_status, b"upstream failure", "text/plain")
            return
        if path == "/simple/":
            self._page(owner.index_json, owner.index_html)
        elif path.startswith("/simple/"):
            name = path[len("/simple/") :].strip("/")
            if canonicalize_name(name) != name or not path.endswith("/"):
                self._send(301, b"", "text/plain", {"Location": f"/simple/{canonicalize_name(name)}/"})
                return
            project = owner.projects.get(name)
            if project is None:
                self._send(404, b"not found", "text/plain")
                return
            self._page(lambda: owner.project_json(project), lambda: owner.project_html(project))
        elif path.startswith("/files/"):
            self._file(path[len("/files/") :])
        else:
            self._send(404, b"not found", "text/plain")

    def _authorized(self, credentials: tuple[str, str]) -> bool:
        import base64

        expected = "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _page(self, as_json: Any, as_html: Any) -> None:
        owner = self.owner
        accept = self.headers.get("Accept", "")
        use_json = "json" in owner.formats and (JSON_TYPE in accept or "html" not in owner.formats)
        body = as_json() if use_json else as_html()
        content_type = JSON_TYPE if use_json else "text/html"
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag} if owner.send_etags else {}
        if owner.send_etags and self.headers.get("If-None-Match") == etag:
            self._send(304, b"", content_type, headers)
            return
        self._send(200, body, content_type, headers)

    def _file(self, filename: str) -> None:
        owner = self.owner
        metadata = filename.endswith(".metadata")
        try:
            upstream_file = owner.file(filename.removesuffix(".metadata"))
        except KeyError:
            self._send(404, b"not found", "text/plain")
            return
        if metadata:
            self._send(200, upstream_file.dist.metadata, "text/plain")
            return
        body = (
            upstream_file.corrupt_with
            if upstream_file.corrupt_with is not None
            else upstream_file.dist.content
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = 16 * 1024
        try:
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                if owner.chunk_delay:
                    self.wfile.flush()
                    time.sleep(owner.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)
