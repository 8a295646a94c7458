"""Route factories: each hands a view its context (root, a user, an index) with an ACL."""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, Allow
from pyramid.request import Request

from idx_server.model.errors import NotFound
from idx_server.model.indexes import ANONYMOUS, Index
from idx_server.model.principals import (
    DELETE,
    EVERYONE,
    INDEX_CREATE,
    INDEX_DELETE,
    INDEX_MODIFY,
    READ,
    ROOT_PRINCIPAL,
    TOXRESULT_UPLOAD,
    UPLOAD,
    USER_CREATE,
    USER_DELETE,
    USER_MODIFY,
    YANK,
    principals_for,
)
from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.settings import Settings

Ace = tuple[str, str, Any]


class RootResource:
    """The server as a whole (/, /+api, user creation)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        settings: Settings = request.registry["idx.settings"]
        self.allow_registration = settings.allow_registration

    def _base_acl(self) -> list[Ace]:
        acl: list[Ace] = [(Allow, ROOT_PRINCIPAL, ALL_PERMISSIONS)]
        if self.allow_registration:
            acl.append((Allow, EVERYONE, USER_CREATE))
        return acl

    @property
    def __acl__(self) -> list[Ace]:
        return [*self._base_acl(), (Allow, EVERYONE, READ)]


class UserResource(RootResource):
    """``/{user}``: the user may not exist yet (PUT creates it)."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.user_name: str = request.matchdict["user"]
        if type(self) is UserResource and request.method != "PUT":
            users: UserService = request.find_service(UserService)
            if users.find(self.user_name) is None:
                raise NotFound(f"user {self.user_name!r} does not exist")

    def _base_acl(self) -> list[Ace]:
        acl = super()._base_acl()
        acl.append((Allow, "user:" + self.user_name, (USER_MODIFY, USER_DELETE, INDEX_CREATE)))
        return acl


class IndexResource(UserResource):
    """``/{user}/{index}/...``: the index may not exist yet (PUT creates it)."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.index_name = f"{self.user_name}/{request.matchdict['index']}"
        indexes: IndexService = request.find_service(IndexService)
        self.index: Index | None = indexes.find(self.user_name, request.matchdict["index"])
        if self.index is None and request.method != "PUT":
            # Before any permission check: a mistyped index name is a 404, not a 403.
            raise NotFound(f"index {self.index_name} does not exist")

    @classmethod
    def of(cls, request: Request, index: Index) -> IndexResource:
        """The context of an existing index, outside of a route (e.g. for listings)."""
        resource = cls.__new__(cls)
        RootResource.__init__(resource, request)
        resource.user_name = index.user
        resource.index_name = index.full_name
        resource.index = index
        return resource

    def require_index(self) -> Index:
        if self.index is None:
            raise NotFound(f"index {self.index_name} does not exist")
        return self.index

    @property
    def __acl__(self) -> list[Ace]:
        acl = self._base_acl()
        index = self.index
        if index is None:
            return [*acl, (Allow, EVERYONE, READ)]
        owner = "user:" + index.user
        acl.append((Allow, owner, (INDEX_MODIFY, INDEX_DELETE, READ)))
        config = index.config
        for principal in principals_for(config.get("acl_upload") or []):
            acl.append((Allow, principal, (UPLOAD, DELETE, YANK, READ)))
        for principal in principals_for(config.get("acl_toxresult_upload") or []):
            acl.append((Allow, principal, TOXRESULT_UPLOAD))
        for principal in principals_for(config.get("acl_read") or [ANONYMOUS]):
            acl.append((Allow, principal, READ))
        return acl
