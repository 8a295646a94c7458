"""``/{user}/{index}/+f/...``: distribution files, their PEP 658 metadata, deleting them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model.errors import NotFound
from idx_server.model.principals import DELETE, INDEX_MODIFY, READ, TOXRESULT_UPLOAD
from idx_server.resources import IndexResource
from idx_server.services.files import FileLocation, FileService
from idx_server.services.releases import ReleaseService
from idx_server.services.toxresults import ToxResultService
from idx_server.settings import Settings
from idx_server.views.common import current_user, flag, json_response, message_response

IMMUTABLE = "max-age=31536000, immutable"
BLOCK_SIZE = 256 * 1024


def _locate(request: Request, filename: str | None = None) -> FileLocation:
    context: IndexResource = request.context
    index = context.require_index()
    key_prefix = request.matchdict["h3"] + request.matchdict["h13"]
    if len(key_prefix) != 16:
        raise NotFound(f"no such file: {request.path}")
    service: FileService = request.find_service(FileService)
    return service.locate(index, key_prefix, filename or request.matchdict["filename"])


def _limited(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(BLOCK_SIZE, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def blob_response(request: Request, sha256: str, size: int, filename: str, content_type: str) -> Response:
    """Serve a stored blob: whole (via wsgi.file_wrapper) or a byte range; or let nginx send it."""
    service = request.find_service(FileService)
    headers = {
        "ETag": f'"{sha256}"',
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    if f'"{sha256}"' in (request.if_none_match or ()):
        return Response(status=304, headers=headers)
    settings: Settings = request.registry["idx.settings"]
    if settings.x_accel_redirect:
        response = Response(headers=headers)
        response.content_type = content_type
        response.headers["X-Accel-Redirect"] = (
            f"{settings.x_accel_redirect}{sha256[:2]}/{sha256[2:4]}/{sha256}"
        )
        return response
    try:
        handle = service.blobs.open(sha256)
    except FileNotFoundError:
        raise NotFound(
            f"{filename} is registered but its content is missing; run 'idx-server check'"
        ) from None
    byte_range = request.range.range_for_length(size) if request.range else None
    if request.range and byte_range is None:
        handle.close()
        response = Response(status=416, headers=headers)
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    if byte_range is not None:
        start, end = byte_range
        handle.seek(start)
        response = Response(status=206, headers=headers)
        response.content_type = content_type
        response.app_iter = _limited(handle, end - start)
        response.content_length = end - start
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return response
    wrapper = request.environ.get("wsgi.file_wrapper")
    response = Response(headers=headers)
    response.content_type = content_type
    response.app_iter = wrapper(handle, BLOCK_SIZE) if wrapper else _limited(handle, size)
    response.content_length = size
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
    response = Response(content_type=stream.content_type or "application/octet-stream")
    response.app_iter = stream
    if stream.size is not None:
        response.content_length = stream.size
    response.headers["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response.headers["X-Accel-Buffering"] = "no"
    return response


@view_config(route_name="file_metadata", request_method="GET", permission=READ)
def get_core_metadata(request: Request) -> Response:
    filename = request.matchdict["filename"].removesuffix(".metadata")
    location = _locate(request, filename)
    service = request.find_service(FileService)
    sha256 = service.core_metadata_sha256(location)
    size = service.blobs.size(sha256)
    return blob_response(request, sha256, size, filename + ".metadata", "text/plain; charset=utf-8")


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
        service.blobs.size(result.sha256),
        f"{location.file.filename}.toxresult-{result.id}",
        "application/json",
    )
