"""``/{user}``: show, create, modify, delete a user."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_server.model.principals import READ, USER_CREATE, USER_DELETE, USER_MODIFY
from idx_server.model.users import User
from idx_server.resources import IndexResource, UserResource
from idx_server.services.auth import AuthService
from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.views.common import json_response, message_response, read_json_object
from idx_server.views.indexes import public_config


def userconfig(request: Request, user: User) -> dict[str, Any]:
    data = user.public_dict()
    data["indexes"] = {
        ix.name: public_config(ix)
        for ix in request.find_service(IndexService).all_indexes(user.name)
        if request.has_permission(READ, IndexResource.of(request, ix))
    }
    return data


@view_config(route_name="user", request_method="GET", permission=READ)
def get_user(request: Request) -> Response:
    context: UserResource = request.context
    user = request.find_service(UserService).get(context.user_name)
    return json_response(request, "userconfig", userconfig(request, user))


@view_config(route_name="user", request_method="PUT", permission=USER_CREATE)
def create_user(request: Request) -> Response:
    context: UserResource = request.context
    user = request.find_service(UserService).create(context.user_name, read_json_object(request))
    return json_response(request, "userconfig", userconfig(request, user), status=201, message="user created")


@view_config(route_name="user", request_method="PATCH", permission=USER_MODIFY)
def modify_user(request: Request) -> Response:
    context: UserResource = request.context
    users = request.find_service(UserService)
    values = read_json_object(request)
    user = users.modify(context.user_name, values)
    if "password" in values:
        request.find_service(AuthService).forget_passwords()
    return json_response(request, "userconfig", userconfig(request, user), message="user modified")


@view_config(route_name="user", request_method="DELETE", permission=USER_DELETE)
def delete_user(request: Request) -> Response:
    context: UserResource = request.context
    request.find_service(UserService).delete(context.user_name)
    return message_response(request, f"user {context.user_name} deleted")
