"""``/+tokens``: API tokens, usable as the Basic-auth password by pip, uv, twine, poetry."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model import config_values as cv
from idx_server.model.errors import Forbidden, InvalidInput, Unauthorized
from idx_server.model.names import split_index_name
from idx_server.model.users import ROOT
from idx_server.services.auth import AuthService
from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.storage import Token
from idx_server.views.common import current_user, json_response, message_response, read_json_object

SCOPES = ("", "read", "upload")


def token_dict(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user,
        "kind": token.kind,
        "scope": token.scope or "all",
        "index": token.index or None,
        "description": token.description,
        "created": token.created,
        "expires": token.expires or None,
    }


def _acting_user(request: Request, wanted: str | None) -> str:
    user = current_user(request)
    if not user:
        raise Unauthorized("log in to manage tokens")
    if wanted and wanted != user:
        if user != ROOT:
            raise Forbidden("only root manages other users' tokens")
        request.find_service(UserService).get(wanted)
        return wanted
    return user


@view_config(route_name="tokens", request_method="POST")
def create_token(request: Request) -> Response:
    body = read_json_object(request)
    user = _acting_user(request, body.get("user"))
    scope = body.get("scope") or ""
    if scope not in SCOPES:
        raise InvalidInput("scope: expected 'read' or 'upload' (or nothing for the user's full rights)")
    index = body.get("index") or ""
    if index:
        owner, name = split_index_name(str(index))
        request.find_service(IndexService).get(owner, name)
    expires = cv.parse_duration(body.get("expires") or 0, "expires")
    description = str(body.get("description") or "")[:200]
    identity = request.identity
    if identity is not None and identity.token is not None and identity.token.kind == "api":
        raise Forbidden("an API token cannot create tokens; log in with a password")
    auth = request.find_service(AuthService)
    secret = auth.issue(
        user, kind="api", expires_in=expires, scope=scope, index=index, description=description
    )
    token = auth.token_for(secret)
    assert token is not None
    result = {**token_dict(token), "token": secret}
    return json_response(request, "token", result, status=201, message="token created; it is shown only once")


@view_config(route_name="tokens", request_method="GET")
def list_tokens(request: Request) -> Response:
    user = _acting_user(request, request.GET.get("user"))
    tokens = request.find_service(AuthService).tokens(user)
    return json_response(request, "list:token", [token_dict(t) for t in tokens])


@view_config(route_name="token", request_method="DELETE")
def revoke_token(request: Request) -> Response:
    user = _acting_user(request, request.GET.get("user"))
    token_id = int(request.matchdict["token_id"])
    request.find_service(AuthService).revoke_id(user, token_id, by_root=current_user(request) == ROOT)
    return message_response(request, f"token {token_id} revoked")
