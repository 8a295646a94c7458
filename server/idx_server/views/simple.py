"""The simple repository API (PEP 503 / 691): project lists and project pages."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound, HTTPMovedPermanently
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from idx_server.model.indexes import Index
from idx_server.model.names import project_name
from idx_server.model.principals import READ
from idx_server.render.headers import content_type_header, page_headers
from idx_server.resources import IndexResource
from idx_server.services.simple import RenderedPage, SimpleService
from idx_server.views.common import (
    message_response,
    outside_url,
    wants_browser,
    wants_simple,
)


def _query(request: Request) -> str:
    return "?" + request.query_string if request.query_string else ""


def _page_response(request: Request, index: Index, page: RenderedPage) -> Response:
    order = request.find_service(SimpleService).indexes.resolution_order(index)
    headers = page_headers(page.etag, page.stale, all(ix.is_mirror for ix in order))
    if page.etag.strip('"') in (request.if_none_match or ()):
        return Response(status=304, headers=headers)
    gzip_ok = "gzip" in (request.headers.get("Accept-Encoding") or "")
    if page.path is not None:
        use_gz = gzip_ok and page.gzipped_path is not None
        path = page.gzipped_path if use_gz else page.path
        assert path is not None
        response = FileResponse(str(path), request=request, content_type=content_type_header(page.media_type))
        response.headers.update(headers)
        if use_gz:
            response.headers["Content-Encoding"] = "gzip"
        return response
    if gzip_ok and page.gzipped is not None:
        response = Response(body=page.gzipped, headers=headers)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(body=page.body, headers=headers)
    response.headers["Content-Type"] = content_type_header(page.media_type)
    return response


def render_project_list(request: Request, index: Index, media_type: str) -> Response:
    page = request.find_service(SimpleService).project_list(index, media_type)
    return _page_response(request, index, page)


def render_project_page(request: Request, index: Index, project: str, media_type: str, base: str) -> Response:
    page = request.find_service(SimpleService).project_page(index, project, media_type, base)
    return _page_response(request, index, page)


@view_config(route_name="simple_list", request_method="GET", permission=READ)
def simple_list(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    if not request.path.endswith("/"):
        location = f"{outside_url(request)}/{index.full_name}/+simple/{_query(request)}"
        raise HTTPMovedPermanently(location=location)
    media_type = wants_simple(request, json_first=False)
    assert media_type is not None
    return render_project_list(request, index, media_type)


@view_config(route_name="simple_project", request_method="GET", permission=READ)
def simple_project(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    requested = request.matchdict["project"]
    project = project_name(requested)
    if requested != project or not request.path.endswith("/"):
        location = f"{outside_url(request)}/{index.full_name}/+simple/{project}/{_query(request)}"
        raise HTTPMovedPermanently(location=location)
    media_type = wants_simple(request, json_first=False)
    assert media_type is not None
    return render_project_page(request, index, project, media_type, base="../../")


@view_config(route_name="simple_refresh", request_method="POST", permission=READ)
def refresh(request: Request) -> Response:
    """devpi's refresh: revalidate the project on every mirror of the resolution order now."""
    context: IndexResource = request.context
    index = context.require_index()
    project = project_name(request.matchdict["project"])
    refreshed = request.find_service(SimpleService).refresh(index, project)
    location = f"{outside_url(request)}/{index.full_name}/+simple/{project}/"
    if wants_browser(request):
        raise HTTPFound(location=location)
    return message_response(request, f"refreshed {project} from {', '.join(refreshed) or 'no mirror'}")
