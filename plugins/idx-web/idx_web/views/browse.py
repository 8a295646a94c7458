"""Pages for ``/``, ``/{user}`` and ``/{user}/{index}``."""

from __future__ import annotations

from typing import Any

from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.views.common import current_user, outside_url
from pyramid.request import Request

from idx_web.pages.listing import index_page, owners_with_indexes
from idx_web.pages.snippets import index_snippets
from idx_web.views.common import index_of, readable_indexes


def root_page(request: Request) -> dict[str, Any]:
    users = request.find_service(UserService).all_users()
    return {"owners": owners_with_indexes(users, readable_indexes(request))}


def user_page(request: Request) -> dict[str, Any]:
    user = request.find_service(UserService).get(request.matchdict["user"])
    owners = owners_with_indexes([user], readable_indexes(request, user.name))
    return {"user": user, "indexes": owners[0].indexes if owners else ()}


def index_view(request: Request) -> dict[str, Any]:
    index = index_of(request)
    service = request.find_service(IndexService)
    page = index_page(
        index, service.project_names(index), service.resolution_order(index), request.GET.get("page")
    )
    snippets = index_snippets(
        outside_url(request), index.full_name, index.accepts_uploads, current_user(request)
    )
    return {"page": page, "snippets": snippets}
