"""Push (devpi's wire format): ``POST`` (or ``PUSH``) JSON to ``/{user}/{index}/``."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model.errors import InvalidInput
from idx_server.model.names import project_name, split_index_name
from idx_server.model.principals import READ, UPLOAD
from idx_server.resources import IndexResource
from idx_server.services.indexes import IndexService
from idx_server.services.push import PushService
from idx_server.views.common import current_user, json_response, read_json_object


@view_config(route_name="index", request_method="PUSH", permission=READ)
@view_config(
    route_name="index", request_method="POST", permission=READ, header="Content-Type:application/json"
)
def push(request: Request) -> Response:
    context: IndexResource = request.context
    source = context.require_index()
    body = read_json_object(request)
    if "posturl" in body:
        raise InvalidInput(
            "pushing to an external index is not supported by idx; download the files and use twine"
        )
    name, version, target_name = (_text(body, key) for key in ("name", "version", "targetindex"))
    user, index_name = split_index_name(target_name)
    target = request.find_service(IndexService).get(user, index_name)
    allowed = request.has_permission(UPLOAD, IndexResource.of(request, target))
    if not allowed:
        request.context = IndexResource.of(request, target)
        raise HTTPForbidden(result=allowed)
    log = request.find_service(PushService).push(
        source, target, project_name(name), version, current_user(request)
    )
    return json_response(request, "actionlog", log, message=f"pushed {name} {version} to {target.full_name}")


def _text(body: dict[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput('send {"name": PROJECT, "version": VERSION, "targetindex": "user/index"}')
    return value
