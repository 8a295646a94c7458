"""Who is asking (HTTP Basic, devpi's X-Devpi-Auth, plugins) and what they may do (ACLs)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import pluggy
from pyramid.authorization import ACLHelper
from pyramid.config import Configurator
from pyramid.request import Request

from idx_server.model import networks
from idx_server.model.errors import TooManyRequests
from idx_server.model.indexes import ANONYMOUS, Index
from idx_server.model.principals import (
    EVERYONE,
    READ,
    READ_ONLY_PERMISSIONS,
    TOXRESULT_UPLOAD,
    UPLOAD_SCOPE_PERMISSIONS,
    user_principals,
)
from idx_server.model.users import ROOT
from idx_server.resources import IndexResource
from idx_server.services.auth import AuthService, Identity
from idx_server.services.indexes import IndexService

_IDENTITY_KEY = "idx.identity"
THROTTLED_KEY = "idx.throttled"


@dataclass(frozen=True)
class AuthResult:
    """A plugin's verdict on credentials (``idx_authenticate``)."""

    ok: bool
    username: str = ""
    groups: tuple[str, ...] = ()


def request_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password-or-token) from ``X-Devpi-Auth`` or ``Authorization: Basic``."""
    header = request.headers.get("X-Devpi-Auth")
    if header:
        return _decode_pair(header)
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic" and value:
        return _decode_pair(value.strip())
    if scheme.lower() == "bearer" and value:
        return ("", value.strip())
    return None


def _decode_pair(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return user, secret


def client_address(auth: AuthService, request: Request) -> str:
    """Whom the login throttle counts ``request`` against: the connection's peer, or
    behind a trusted proxy (``trusted_proxies``) the client its X-Forwarded-For names."""
    return networks.client_address(
        request.remote_addr or "", request.headers.get("X-Forwarded-For"), auth.trusted_proxies
    )


class IdxSecurityPolicy:
    """Pyramid security policy: identity from credentials, permission from ACLs."""

    def __init__(self, auth: AuthService, pm: pluggy.PluginManager) -> None:
        self.auth = auth
        self.pm = pm
        self.helper = ACLHelper()

    def identity(self, request: Request) -> Identity | None:
        environ = request.environ
        if _IDENTITY_KEY in environ:
            return environ[_IDENTITY_KEY]  # type: ignore[no-any-return]
        identity = self._identify(request)
        environ[_IDENTITY_KEY] = identity
        return identity

    def _identify(self, request: Request) -> Identity | None:
        credentials = request_credentials(request)
        hook = self.pm.hook.idx_authenticate
        if hook.get_hookimpls():
            username, password = credentials if credentials else ("", None)
            if username != ROOT:
                result = hook(request=request, username=username, password=password)
                if result is not None:
                    if not result.ok:
                        return None
                    user = result.username or username
                    found = self.pm.hook.idx_groups(username=user)
                    return Identity(user, (*result.groups, *(g for groups in found for g in groups or [])))
        if credentials is None:
            return None
        username, secret = credentials
        try:
            identity = self.auth.authenticate(username, secret, client_address(self.auth, request))
        except TooManyRequests as exc:
            # Answered as a 429 by the forbidden view if the request needed the identity.
            request.environ[THROTTLED_KEY] = exc
            return None
        if identity is None:
            return None
        groups = [g for groups in self.pm.hook.idx_groups(username=identity.user) for g in groups or []]
        if groups:
            identity = Identity(identity.user, tuple(groups), identity.token)
        return identity

    def authenticated_userid(self, request: Request) -> str | None:
        identity = self.identity(request)
        return identity.user if identity else None

    def principals(self, request: Request) -> list[str]:
        identity = self.identity(request)
        if identity is None:
            return [EVERYONE]
        return user_principals(identity.user, identity.groups)

    def permits(self, request: Request, context: Any, permission: str) -> Any:
        identity = self.identity(request)
        token = identity.token if identity else None
        if token is not None and not _token_allows(token.scope, token.index, context, permission):
            return self.helper.permits(None, [EVERYONE], permission)  # Denied, with a reason
        principals = self.principals(request)
        result = self.helper.permits(context, principals, permission)
        if result and permission in (READ, TOXRESULT_UPLOAD) and isinstance(context, IndexResource):
            # An index shows its bases' contents: reading it needs read access to all of them.
            result = self._read_through_bases(request, context, principals)
        return result

    def _read_through_bases(self, request: Request, context: IndexResource, principals: list[str]) -> Any:
        result = self.helper.permits(context, principals, READ)
        if context.index is None:
            return result
        indexes: IndexService = request.find_service(IndexService)
        order = indexes.resolution_order(context.index)
        if all(_publicly_readable(index) for index in order):
            return result  # the usual case, decided without building every ACL
        for index in order[1:]:
            result = self.helper.permits(IndexResource.of(request, index), principals, READ)
            if not result:
                return result
        return result

    def remember(self, request: Request, userid: str, **kw: Any) -> list[tuple[str, str]]:
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        return []


def _publicly_readable(index: Index) -> bool:
    return list(index.config.get("acl_read") or [ANONYMOUS]) == [ANONYMOUS]


def _token_allows(scope: str, index: str, context: Any, permission: str) -> bool:
    if scope == "read" and permission not in READ_ONLY_PERMISSIONS:
        return False
    if scope == "upload" and permission not in UPLOAD_SCOPE_PERMISSIONS:
        return False
    if index:
        target = getattr(context, "index_name", None)
        if target != index:
            return False
    return True


def credentials_given(request: Request) -> bool:
    return request_credentials(request) is not None


def includeme(config: Configurator) -> None:
    auth: AuthService = config.registry["idx.auth"]
    pm: pluggy.PluginManager = config.registry["idx.pm"]
    config.set_security_policy(IdxSecurityPolicy(auth, pm))
