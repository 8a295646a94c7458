"""``POST /{user}/{index}/``: the legacy upload API (twine, uv publish, poetry, pdm, hatch)."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model.errors import InvalidUpload
from idx_server.model.principals import UPLOAD
from idx_server.resources import IndexResource
from idx_server.services.upload_form import receive_form
from idx_server.services.uploads import UploadService, check_index_accepts_uploads
from idx_server.settings import Settings
from idx_server.views.common import current_user, outside_url


@view_config(route_name="index", request_method="POST", permission=UPLOAD, header="Content-Type:multipart/")
def upload(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    check_index_accepts_uploads(index)
    settings: Settings = request.registry["idx.settings"]
    service = request.find_service(UploadService)
    form = receive_form(
        request.body_file_raw,
        request.headers.get("Content-Type", ""),
        request.content_length,
        service.new_writer,
        settings.max_upload_size,
    )
    result = service.upload(index, form, current_user(request), f"{outside_url(request)}/{index.full_name}/")
    return Response(body=(result.message + "\n").encode("utf-8"), content_type="text/plain", charset="utf-8")


@view_config(route_name="index", request_method="POST", permission=UPLOAD)
def not_an_upload(request: Request) -> Response:
    """A POST that is neither an upload (multipart) nor a push (JSON)."""
    raise InvalidUpload(
        "a POST to an index is an upload (multipart/form-data, as twine and uv publish send) "
        "or a push (application/json); this one is neither"
    )
