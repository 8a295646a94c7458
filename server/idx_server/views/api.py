"""Server-wide endpoints: discovery, login, status, the user list."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server import __version__
from idx_server.model.errors import InvalidInput
from idx_server.model.principals import READ
from idx_server.resources import IndexResource, RootResource
from idx_server.security import client_address, request_credentials
from idx_server.services.auth import AuthService
from idx_server.services.indexes import IndexService
from idx_server.services.status import StatusService
from idx_server.services.users import UserService
from idx_server.views.common import (
    current_user,
    index_url,
    json_response,
    message_response,
    outside_url,
    read_json_object,
)
from idx_server.views.indexes import public_config

FEATURES = ["server-keyvalue-parsing", "push-no-docs", "push-only-docs", "push-register-project"]


def _apiconfig(request: Request, context: RootResource) -> dict[str, Any]:
    base = outside_url(request)
    user = current_user(request)
    result: dict[str, Any] = {
        "login": base + "/+login",
        "authstatus": ["ok" if user else "noauth", user, list(getattr(request.identity, "groups", ()) or [])],
        "features": FEATURES,
        "idx-server": __version__,
    }
    if isinstance(context, IndexResource) and context.index is not None:
        url = index_url(request, context.index_name)
        result["index"] = url
        result["simpleindex"] = url + "+simple/"
        if context.index.accepts_uploads:
            result["pypisubmit"] = url
    return result


@view_config(route_name="api", request_method="GET", permission=READ)
@view_config(route_name="user_api", request_method="GET", permission=READ)
def api(request: Request) -> Response:
    return json_response(request, "apiconfig", _apiconfig(request, request.context))


@view_config(route_name="index_api", request_method="GET", permission=READ)
def index_api(request: Request) -> Response:
    context: IndexResource = request.context
    context.require_index()
    return json_response(request, "apiconfig", _apiconfig(request, context))


@view_config(route_name="login", request_method="POST")
def login(request: Request) -> Response:
    data = read_json_object(request)
    user, password = data.get("user"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise InvalidInput('send {"user": NAME, "password": PASSWORD}')
    auth = request.find_service(AuthService)
    token, expiration = auth.login(user, password, client_address(auth, request))
    return json_response(
        request, "proxyauth", {"password": token, "expiration": expiration}, message="login successful"
    )


@view_config(route_name="logout", request_method="POST")
def logout(request: Request) -> Response:
    credentials = request_credentials(request)
    revoked = credentials is not None and request.find_service(AuthService).revoke(credentials[1])
    return message_response(request, "logged out" if revoked else "no login token to revoke")


@view_config(route_name="status", request_method="GET", permission=READ)
def status(request: Request) -> Response:
    return json_response(request, "status", request.find_service(StatusService).status(request))


@view_config(route_name="metrics", request_method="GET", permission=READ)
def metrics(request: Request) -> Response:
    body = request.find_service(StatusService).prometheus(request)
    return Response(body=body.encode("utf-8"), content_type="text/plain", charset="utf-8")


@view_config(route_name="root", request_method="GET", permission=READ, accept="application/json")
@view_config(route_name="root", request_method="GET", permission=READ)
def user_list(request: Request) -> Response:
    users = request.find_service(UserService).all_users()
    indexes = request.find_service(IndexService)
    result = {}
    for user in users:
        data = user.public_dict()
        data["indexes"] = {
            ix.name: public_config(ix)
            for ix in indexes.all_indexes(user.name)
            if request.has_permission(READ, IndexResource.of(request, ix))
        }
        result[user.name] = data
    return json_response(request, "list:userconfig", result)
