"""The fast path: anonymous reads of public simple pages and files, answered without
going through Pyramid.

Installers spend their lives on two URLs: ``/{user}/{index}/+simple/{project}/`` and the
``+f/`` files it links (with their ``.metadata``). For a public index (every index of its
resolution order readable by anyone) and a request without credentials or query, the
answer does not depend on who asks, so this WSGI middleware asks the same services the
views do and answers directly: cached files from disk, and a mirror's uncached files and
metadata fetched from upstream as the views would (a cold install asks for some 40 of
each at once). Everything else (redirects, ranges, protected indexes, HEAD of an uncached
file) falls through to the Pyramid application unchanged. An error found before anything
was fetched falls through too, and the view reports it; once upstream was asked, its
error is answered here (as the error view would), so upstream is never asked twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from packaging.utils import canonicalize_name
from pyramid.request import Request

from idx_server.accesslog import STARTED, AccessLog
from idx_server.filebody import file_body, streamed_body
from idx_server.model.errors import IdxError
from idx_server.model.indexes import ANONYMOUS, Index
from idx_server.render.headers import (
    content_type_header,
    file_headers,
    page_headers,
    server_headers,
    streamed_file_headers,
)
from idx_server.render.simple import HTML_TYPE, JSON_TYPE, TEXT_HTML
from idx_server.services.files import FileLocation, FileService
from idx_server.services.indexes import IndexService
from idx_server.services.simple import RenderedPage, SimpleService
from idx_server.settings import Settings
from idx_server.storage import MetaStore
from idx_server.storage.blobs import blob_relpath
from idx_server.views.errors import idx_error_view

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], Iterable[bytes]]

BLOCK_SIZE = 256 * 1024
#: nginx's file check (see ``FastPath._check``); answered only with ``x_accel_redirect``.
CHECK_HEADER = "HTTP_X_IDX_FILE_CHECK"
_SIMPLE_TYPES = {JSON_TYPE, HTML_TYPE, TEXT_HTML}
METADATA_TYPE = "text/plain; charset=utf-8"


def publicly_readable(order: list[Index]) -> bool:
    """Whether anyone may read every index of a resolution order."""
    return all(list(ix.config.get("acl_read") or [ANONYMOUS]) == [ANONYMOUS] for ix in order)


class FastPath:
    def __init__(
        self,
        app: WSGIApp,
        store: MetaStore,
        indexes: IndexService,
        simple: SimpleService,
        files: FileService,
        settings: Settings,
        negotiate: Callable[[str], str | None],
        access_log: AccessLog,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.store = store
        self.indexes = indexes
        self.simple = simple
        self.files = files
        self.settings = settings
        self.negotiate = negotiate
        self.uuid = store.get_meta("uuid") or ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if CHECK_HEADER in environ and self.settings.x_accel_redirect:
            return self._check(environ, start_response)
        if (
            environ["REQUEST_METHOD"] in ("GET", "HEAD")
            and not environ.get("QUERY_STRING")
            and "HTTP_AUTHORIZATION" not in environ
            and "HTTP_X_DEVPI_AUTH" not in environ
            and "HTTP_RANGE" not in environ
        ):
            start = time.perf_counter()
            try:
                answer = self._answer(environ)
            except (IdxError, OSError):
                answer = None  # the views answer it, with their error pages
            if answer is not None:
                status, headers, body = answer
                content_type = next((value for name, value in headers if name == "Content-Type"), "")
                headers.extend(server_headers(self.store.serial(), self.uuid, content_type))
                start_response(status, headers)
                self.access_log.record(
                    environ["REQUEST_METHOD"],
                    environ.get("PATH_INFO", ""),
                    status[:3],
                    (time.perf_counter() - start) * 1000,
                )
                return [] if environ["REQUEST_METHOD"] == "HEAD" else body
            environ[STARTED] = start
        return self.app(environ, start_response)

    def _check(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """nginx's question (an ``auth_request`` subrequest, whose answers it caches): may
        it send the file of this ``+f/`` URL from disk, and which one? ``X-Idx-Blob`` is
        the blob's path under ``serverdir/+files/`` when the file is cached and anyone may
        read it, so the answer holds for every client; else ``-``, not to be cached, and
        nginx passes the request to idx. The header's value is the client's method."""
        blob = "-"
        if environ[CHECK_HEADER] in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
            ignored = ("HTTP_RANGE", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
            probe = {key: value for key, value in environ.items() if key not in ignored}
            probe["REQUEST_METHOD"] = "HEAD"
            try:
                path = environ.get("PATH_INFO", "")
                # Dist files only: a .metadata file keeps its text/plain type from idx.
                answer = self._answer(probe) if "/+f/" in path and not path.endswith(".metadata") else None
            except (IdxError, OSError):
                answer = None
            if answer is not None and answer[0].startswith("200 "):
                accel = dict(answer[1]).get("X-Accel-Redirect", "")
                blob = accel.removeprefix(self.settings.x_accel_redirect) or "-"
        headers = [("X-Idx-Blob", blob), ("Content-Length", "0")]
        if blob == "-":
            headers.append(("X-Accel-Expires", "0"))  # nginx: do not cache a no
        start_response("200 OK", headers)
        return []

    def _answer(self, environ: dict[str, Any]) -> Answer | None:
        parts = environ.get("PATH_INFO", "").split("/")
        if len(parts) < 6 or parts[0] or "+" in parts[1] or "+" in parts[2]:
            return None
        index = self.indexes.find(parts[1], parts[2])
        if index is None:
            return None
        order = self.indexes.resolution_order(index)
        if not publicly_readable(order):
            return None
        if len(parts) == 6 and parts[3] == "+simple" and parts[5] == "" and parts[4]:
            return self._page(environ, index, order, parts[4])
        if len(parts) == 7 and parts[3] == "+f":
            return self._file(environ, index, parts[4] + parts[5], parts[6])
        return None

    def _page(self, environ: dict[str, Any], index: Index, order: list[Index], project: str) -> Answer | None:
        if canonicalize_name(project) != project:
            return None  # a redirect to the normalized name
        media_type = self.negotiate(environ.get("HTTP_ACCEPT", ""))
        if media_type not in _SIMPLE_TYPES:
            return None
        page = self.simple.project_page(index, project, media_type, base="../../")
        if page.path is not None:
            return None
        headers = page_headers(page.etag, page.stale, all(ix.is_mirror for ix in order))
        if _matches(environ.get("HTTP_IF_NONE_MATCH", ""), page.etag):
            return "304 Not Modified", list(headers.items()), []
        body = _body(page, environ)
        pairs = [*headers.items(), ("Content-Type", content_type_header(page.media_type))]
        if body is not page.body:
            pairs.append(("Content-Encoding", "gzip"))
        pairs.append(("Content-Length", str(len(body))))
        return "200 OK", pairs, [body]

    def _file(self, environ: dict[str, Any], index: Index, key_prefix: str, filename: str) -> Answer | None:
        if len(key_prefix) != 16 or ".toxresult-" in filename:
            return None
        metadata = filename.endswith(".metadata")
        location = self.files.locate(index, key_prefix, filename.removesuffix(".metadata"))
        file = location.file
        if metadata:
            if file.core_metadata_sha256:
                return self._blob(environ, file.core_metadata_sha256, None, filename, METADATA_TYPE)
            return self._uncached(environ, location, filename)
        if file.cached and file.sha256:
            self.files.record_access(file)
            return self._blob(environ, file.sha256, file.size, filename, "application/octet-stream")
        return self._uncached(environ, location, filename)

    def _uncached(self, environ: dict[str, Any], location: FileLocation, filename: str) -> Answer | None:
        """A GET of a mirror's file or metadata that is not cached yet: fetched from
        upstream here. HEAD, and files without content, go to the view."""
        if environ["REQUEST_METHOD"] != "GET" or not location.origin.is_mirror:
            return None
        if not filename.endswith(".metadata"):
            return self._from_upstream(environ, location)
        try:
            sha256 = self.files.core_metadata_sha256(location)  # fetched or extracted
        except IdxError as exc:
            return _error(environ, exc)
        pending = self.files.pending_metadata(sha256)  # fetched, not on disk yet
        return self._blob(environ, sha256, None, filename, METADATA_TYPE, pending)

    def _blob(
        self,
        environ: dict[str, Any],
        sha256: str,
        size: int | None,
        filename: str,
        content_type: str,
        data: bytes | None = None,
    ) -> Answer | None:
        """A blob's answer; with ``data``, its bytes are not on disk yet and are answered
        from memory (never by nginx)."""
        headers = list(file_headers(sha256, filename).items())
        if _matches(environ.get("HTTP_IF_NONE_MATCH", ""), f'"{sha256}"'):
            return "304 Not Modified", headers, []
        headers.append(("Content-Type", content_type))
        if data is not None:
            headers.append(("Content-Length", str(len(data))))
            return "200 OK", headers, [data]
        accel = self.settings.x_accel_redirect
        # No body (nginx sends it, or HEAD): the blob must exist. A body: opening it is the
        # check. Either way a missing blob goes to the view, which says what is missing.
        handle = None
        if accel or environ["REQUEST_METHOD"] == "HEAD":
            if not self.files.blob_exists(sha256):
                return None
        else:
            try:
                handle = self.files.open_blob(sha256)
            except FileNotFoundError:
                return None
        if size is None:
            size = self.files.blob_size(sha256)
        headers.append(("Content-Length", str(size)))
        if handle is None:
            if accel:
                headers.append(("X-Accel-Redirect", accel + blob_relpath(sha256)))
            return "200 OK", headers, []
        body: Iterable[bytes] = file_body(environ, handle, BLOCK_SIZE) or _read_all(handle)
        return "200 OK", headers, body

    def _from_upstream(self, environ: dict[str, Any], location: FileLocation) -> Answer:
        """An uncached mirror file, streamed while it is fetched and cached (the headers
        the view ``get_file`` sends)."""
        try:
            stream = self.files.stream_from_upstream(location)
        except IdxError as exc:
            return _error(environ, exc)
        headers = streamed_file_headers(location.file.filename, stream.content_type, stream.size)
        return "200 OK", headers, streamed_body(environ, stream, stream.size)


def _error(environ: dict[str, Any], exc: IdxError) -> Answer:
    """The error view's answer, from the error view."""
    response = idx_error_view(exc, Request(environ))
    return response.status, list(response.headerlist), response.app_iter


def _matches(if_none_match: str, etag: str) -> bool:
    return bool(if_none_match) and (if_none_match.strip() == "*" or etag in if_none_match)


def _body(page: RenderedPage, environ: dict[str, Any]) -> bytes:
    if page.gzipped is not None and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        return page.gzipped
    return page.body


def _read_all(handle: Any) -> Iterable[bytes]:
    with handle:
        while chunk := handle.read(BLOCK_SIZE):
            yield chunk
