"""What the page views share: readable indexes, the core's store, links."""

from __future__ import annotations

from idx_server.model.indexes import Index
from idx_server.model.principals import READ
from idx_server.resources import IndexResource
from idx_server.services.indexes import IndexService
from idx_server.storage import MetaStore
from idx_server.views.common import outside_url
from pyramid.request import Request


def readable_indexes(request: Request, user: str | None = None) -> list[Index]:
    """The indexes (of ``user``, or all) the requester may read, by the core's ACLs."""
    indexes = request.find_service(IndexService).all_indexes(user)
    return [ix for ix in indexes if request.has_permission(READ, IndexResource.of(request, ix))]


def meta_store(request: Request) -> MetaStore:
    """idx-server's metadata store (read only here: the page models read release rows)."""
    store: MetaStore = request.registry["idx.store"]
    return store


def index_of(request: Request) -> Index:
    context: IndexResource = request.context
    return context.require_index()


def file_url(request: Request, index_name: str, relpath: str) -> str:
    return f"{outside_url(request)}/{index_name}/{relpath}"
