"""``/{user}/{index}``: show, create, modify, delete an index (devpi's JSON API)."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.mirror.upstream import redact_url
from idx_server.model.errors import InvalidInput, NotFound
from idx_server.model.indexes import Index, redact_secrets
from idx_server.model.principals import INDEX_CREATE, INDEX_DELETE, INDEX_MODIFY, READ
from idx_server.resources import IndexResource
from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.views.common import (
    current_user,
    flag,
    json_response,
    message_response,
    outside_url,
    read_json,
    read_json_object,
    wants_simple,
)
from idx_server.views.simple import render_project_list


def public_config(index: Index) -> dict[str, Any]:
    """An index's config as clients may see it (credentials in mirror_url and secrets hidden)."""
    data = redact_secrets(index.index_type, index.config)
    if data.get("mirror_url"):
        data["mirror_url"] = redact_url(data["mirror_url"])
    return data


def indexconfig(request: Request, index: Index, with_projects: bool = True) -> dict[str, Any]:
    data = public_config(index)
    if with_projects:
        data["projects"] = request.find_service(IndexService).project_names(index)
    return data


@view_config(route_name="index", request_method="GET", permission=READ)
def get_index(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    media_type = wants_simple(request, json_first=True)
    if media_type is not None:
        if not request.path.endswith("/"):
            raise HTTPMovedPermanently(location=f"{outside_url(request)}/{index.full_name}/{_query(request)}")
        return render_project_list(request, index, media_type)
    with_projects = not flag(request, "no_projects")
    return json_response(request, "indexconfig", indexconfig(request, index, with_projects))


def _query(request: Request) -> str:
    return "?" + request.query_string if request.query_string else ""


@view_config(route_name="index", request_method="PUT", permission=INDEX_CREATE)
def create_index(request: Request) -> Response:
    context: IndexResource = request.context
    request.find_service(UserService).get(context.user_name)
    name = request.matchdict["index"]
    values = read_json_object(request)
    values.pop("projects", None)
    index = request.find_service(IndexService).create(context.user_name, name, values)
    return json_response(
        request, "indexconfig", indexconfig(request, index), status=201, message="index created"
    )


@view_config(route_name="index", request_method="PATCH", permission=INDEX_MODIFY)
def modify_index(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    body = read_json(request)
    service = request.find_service(IndexService)
    if isinstance(body, list):
        updated = service.modify(index, operations=body)
    elif isinstance(body, dict):
        # A config sent back as GET showed it carries "projects", which is not a setting.
        body.pop("projects", None)
        updated = service.modify(index, values=body)
    else:
        raise InvalidInput("send the new config as a JSON object, or a list of 'key=value' operations")
    return json_response(request, "indexconfig", indexconfig(request, updated), message="index modified")


@view_config(route_name="index", request_method="DELETE", permission=INDEX_DELETE)
def delete_index(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    force = flag(request, "force") and request.has_permission(INDEX_DELETE)
    request.find_service(IndexService).delete(
        index, force=force and request.identity.user == "root", user=current_user(request)
    )
    return message_response(request, f"index {index.full_name} deleted")


def require_existing(context: IndexResource) -> Index:
    index = context.index
    if index is None:
        raise NotFound(f"index {context.index_name} does not exist")
    return index
