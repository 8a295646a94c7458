"""``/{user}/{index}/+f/...``: distribution files, their PEP 658 metadata, deleting them."""

from __future__ import annotations

from collections.abc import Iterator

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.filebody import file_body, streamed_body
from idx_server.model.errors import NotFound, StorageUnavailable
from idx_server.model.principals import DELETE, INDEX_MODIFY, READ, TOXRESULT_UPLOAD
from idx_server.render.headers import file_headers, streamed_file_headers
from idx_server.resources import IndexResource
from idx_server.services.files import FileLocation, FileService
from idx_server.services.releases import ReleaseService
from idx_server.services.toxresults import ToxResultService
from idx_server.settings import Settings
from idx_server.storage.blobs import blob_relpath
from idx_server.views.common import current_user, flag, json_response, message_response

BLOCK_SIZE = 256 * 1024


def _locate(request: Request, filename: str | None = None) -> FileLocation:
    context: IndexResource = request.context
    index = context.require_index()
    key_prefix = request.matchdict["h3"] + request.matchdict["h13"]
    if len(key_prefix) != 16:
        raise NotFound(f"no such file: {request.path}")
    service: FileService = request.find_service(FileService)
    return service.locate(index, key_prefix, filename or request.matchdict["filename"])


def _range_iter(service: FileService, sha256: str, start: int, length: int) -> Iterator[bytes]:
    """The bytes ``start`` to ``start + length``; the file is opened when iteration starts,
    so a response whose body is never read (HEAD) leaves nothing open."""
    with service.open_blob(sha256) as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(BLOCK_SIZE, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def blob_response(
    request: Request, sha256: str, size: int, filename: str, content_type: str, data: bytes | None = None
) -> Response:
    """Serve a stored blob: whole (via wsgi.file_wrapper) or a byte range; or let nginx send
    it. With ``data``, the blob's bytes are not on disk yet and are served from memory."""
    service: FileService = request.find_service(FileService)
    headers = file_headers(sha256, filename)
    if sha256 in (request.if_none_match or ()):
        return Response(status=304, headers=headers)
    if data is None and not service.blob_exists(sha256):
        raise NotFound(f"{filename} is registered but its content is missing; run 'idx-server check'")
    settings: Settings = request.registry["idx.settings"]
    response = Response(headers=headers)
    response.content_type = content_type
    if settings.x_accel_redirect and data is None:
        response.headers["X-Accel-Redirect"] = settings.x_accel_redirect + blob_relpath(sha256)
        return response
    byte_range = request.range.range_for_length(size) if request.range else None
    if request.range and byte_range is None:
        response.status = 416
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range if byte_range is not None else (0, size)
    if byte_range is not None:
        response.status = 206
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    wrapper = request.environ.get("wsgi.file_wrapper")
    if request.method == "HEAD":
        response.app_iter = []
    elif data is not None:
        response.app_iter = [data[start:end]]
    elif byte_range is None and wrapper is not None:
        response.app_iter = file_body(request.environ, service.open_blob(sha256), BLOCK_SIZE)
    else:
        response.app_iter = _range_iter(service, sha256, start, end - start)
    response.content_length = end - start
    return response


@view_config(route_name="file", request_method="GET", permission=READ)
def get_file(request: Request) -> Response:
    location = _locate(request)
    service = request.find_service(FileService)
    file = location.file
    if file.cached and file.sha256:
        service.record_access(file)
        return blob_response(request, file.sha256, file.size or 0, file.filename, "application/octet-stream")
    if not location.origin.is_mirror:
        raise NotFound(f"{file.filename} has no content on {location.origin.full_name}")
    stream = service.stream_from_upstream(location)
    headers = streamed_file_headers(file.filename, stream.content_type, stream.size)
    return Response(app_iter=streamed_body(request.environ, stream, stream.size), headerlist=headers)


@view_config(route_name="file_metadata", request_method="GET", permission=READ)
def get_core_metadata(request: Request) -> Response:
    filename = request.matchdict["filename"].removesuffix(".metadata")
    location = _locate(request, filename)
    service = request.find_service(FileService)
    sha256 = service.core_metadata_sha256(location)
    pending = service.pending_metadata(sha256)  # just fetched from upstream, not on disk yet
    if pending is None and not service.blob_exists(sha256):  # pending a moment ago; its store failed
        raise StorageUnavailable(f"the metadata of {filename} could not be stored; try again")
    size = len(pending) if pending is not None else service.blob_size(sha256)
    return blob_response(
        request, sha256, size, filename + ".metadata", "text/plain; charset=utf-8", data=pending
    )


@view_config(route_name="file", request_method="DELETE", permission=DELETE)
def delete_file(request: Request) -> Response:
    location = _locate(request)
    context: IndexResource = request.context
    if location.origin.id != context.require_index().id:
        raise NotFound(
            f"{location.file.filename} is on {location.origin.full_name}, not on {context.index_name}"
        )
    force = flag(request, "force") and bool(request.has_permission(INDEX_MODIFY))
    request.find_service(ReleaseService).delete_file(
        location.origin, location.file, current_user(request), force
    )
    return message_response(request, f"{location.file.filename} deleted from {location.origin.full_name}")


@view_config(route_name="file", request_method="POST", permission=TOXRESULT_UPLOAD)
def post_toxresult(request: Request) -> Response:
    location = _locate(request)
    context: IndexResource = request.context
    path = request.find_service(ToxResultService).attach(
        context.require_index(), location, request.body, current_user(request)
    )
    return json_response(request, "toxresultpath", path, message="test result stored")


@view_config(route_name="toxresult", request_method="GET", permission=READ)
def get_toxresult(request: Request) -> Response:
    location = _locate(request)
    result = request.find_service(ToxResultService).find(location, int(request.matchdict["result_id"]))
    service = request.find_service(FileService)
    return blob_response(
        request,
        result.sha256,
        service.blob_size(result.sha256),
        f"{location.file.filename}.toxresult-{result.id}",
        "application/json",
    )
