"""``/{user}/{index}/{project}[/{version}]``: devpi's JSON for projects and releases,
deleting them, yanking; and the simple page for installers pointed at the index URL."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model.indexes import Index
from idx_server.model.names import project_name
from idx_server.model.principals import DELETE, INDEX_MODIFY, READ, YANK
from idx_server.resources import IndexResource
from idx_server.services.releases import ReleaseService, UrlFor
from idx_server.views.common import (
    current_user,
    flag,
    json_response,
    message_response,
    outside_url,
    read_json_object,
    wants_simple,
)
from idx_server.views.simple import render_project_page


def url_for(request: Request) -> UrlFor:
    base = outside_url(request)
    return lambda index_name, relpath: f"{base}/{index_name}/{relpath}"


def _force(request: Request) -> bool:
    """``?force`` counts for the index owner and root only."""
    return flag(request, "force") and bool(request.has_permission(INDEX_MODIFY))


@view_config(route_name="project", request_method="GET", permission=READ)
def get_project(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    requested = request.matchdict["project"]
    project = project_name(requested)
    media_type = wants_simple(request, json_first=True)
    if media_type is not None:
        # pip/uv pointed at /{user}/{index}/ ask for /{user}/{index}/{project}/.
        if requested != project or not request.path.endswith("/"):
            raise HTTPMovedPermanently(location=f"{outside_url(request)}/{index.full_name}/{project}/")
        return render_project_page(request, index, project, media_type, base="../")
    versions = request.find_service(ReleaseService).project_versions(
        index, project, url_for(request), ignore_bases=flag(request, "ignore_bases")
    )
    return json_response(request, "projectconfig", versions)


@view_config(route_name="project", request_method="DELETE", permission=DELETE)
def delete_project(request: Request) -> Response:
    index, project = _target(request)
    request.find_service(ReleaseService).delete_project(
        index, project, current_user(request), _force(request)
    )
    return message_response(request, f"project {project} deleted from {index.full_name}")


@view_config(route_name="release", request_method="GET", permission=READ)
def get_release(request: Request) -> Response:
    index, project = _target(request)
    data = request.find_service(ReleaseService).version_data(
        index, project, request.matchdict["version"], url_for(request)
    )
    return json_response(request, "versiondata", data)


@view_config(route_name="release", request_method="DELETE", permission=DELETE)
def delete_release(request: Request) -> Response:
    index, project = _target(request)
    version = request.matchdict["version"]
    request.find_service(ReleaseService).delete_release(
        index, project, version, current_user(request), _force(request)
    )
    return message_response(request, f"{project} {version} deleted from {index.full_name}")


@view_config(route_name="yank", request_method="POST", permission=YANK)
def yank(request: Request) -> Response:
    index, project = _target(request)
    body = read_json_object(request) if request.body else {}
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        reason = str(reason)
    version = request.matchdict["version"]
    count = request.find_service(ReleaseService).set_yanked(
        index, project, version, True, reason, current_user(request)
    )
    return message_response(request, f"{project} {version} yanked on {index.full_name} ({count} files)")


@view_config(route_name="unyank", request_method="POST", permission=YANK)
def unyank(request: Request) -> Response:
    index, project = _target(request)
    version = request.matchdict["version"]
    count = request.find_service(ReleaseService).set_yanked(
        index, project, version, False, "", current_user(request)
    )
    return message_response(request, f"{project} {version} unyanked on {index.full_name} ({count} files)")


def _target(request: Request) -> tuple[Index, str]:
    context: IndexResource = request.context
    return context.require_index(), project_name(request.matchdict["project"])
