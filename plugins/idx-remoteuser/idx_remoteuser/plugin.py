"""The idx-server hooks of idx-remoteuser (the entry point is this module).

A request is authenticated from the header only when its peer address (the TCP
connection's, never a forwarded-for header) is one of ``remoteuser_trusted_proxies``.
"""

from __future__ import annotations

import logging
from typing import Any

from idx_server import hookimpl
from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidInput
from idx_server.model.names import validate_user_name
from idx_server.model.networks import in_networks
from idx_server.model.users import ROOT
from idx_server.security import AuthResult
from idx_server.settings import Setting, Settings
from pyramid.config import Configurator
from pyramid.request import Request

log = logging.getLogger("idx.remoteuser")


def _parse_header(value: Any, name: str) -> str:
    header = cv.parse_str(value, name).strip()
    if "_" in header:
        # WSGI maps '-' and '_' alike: a header with '_' can be smuggled past proxies.
        raise InvalidInput(f"{name}: use '-' rather than '_' in header names, got {header!r}")
    return header


SETTINGS = (
    Setting(
        "remoteuser_trusted_proxies",
        cv.NETWORK_LIST,
        [],
        "Addresses or networks of the reverse proxies whose user header is believed "
        "(e.g. 127.0.0.1). Empty: the header is ignored (idx-remoteuser).",
    ),
    Setting(
        "remoteuser_header",
        cv.ValueKind("header", _parse_header),
        "X-Remote-User",
        "The header the trusted proxy puts the authenticated user name in (idx-remoteuser).",
    ),
    Setting(
        "remoteuser_groups_header",
        cv.ValueKind("header", _parse_header),
        "",
        "A header with the user's groups, comma-separated, for ACL entries ':group:'. "
        "Empty: none (idx-remoteuser).",
    ),
    Setting(
        "remoteuser_allow_root",
        cv.BOOL,
        False,
        "Whether the header may name 'root' (idx-remoteuser).",
    ),
)


def is_trusted(peer: str | None, entries: tuple[str, ...]) -> bool:
    """Whether the connection's peer address is in one of the trusted networks."""
    return in_networks(peer, entries)


def authenticate(request: Request, settings: Settings) -> AuthResult | None:
    trusted = tuple(settings.get("remoteuser_trusted_proxies") or ())
    header = str(settings.get("remoteuser_header"))
    value = request.headers.get(header)
    if value is None or not trusted:
        return None
    if not is_trusted(request.remote_addr, trusted):
        log.info("ignoring %s from %s: not a trusted proxy", header, request.remote_addr)
        return None
    name = value.strip()
    if not name:
        return None  # the proxy says nobody: idx's own credentials (if any) decide
    try:
        validate_user_name(name)
    except InvalidInput:
        log.warning("refusing %s %r from %s: not a valid user name", header, name, request.remote_addr)
        return AuthResult(ok=False)
    if name == ROOT and not settings.get("remoteuser_allow_root"):
        log.warning("refusing %s: root from %s (remoteuser_allow_root is off)", header, request.remote_addr)
        return AuthResult(ok=False)
    return AuthResult(ok=True, username=name, groups=_groups(request, settings))


def _groups(request: Request, settings: Settings) -> tuple[str, ...]:
    header = str(settings.get("remoteuser_groups_header") or "")
    if not header:
        return ()
    raw = request.headers.get(header, "")
    return tuple(group.strip() for group in raw.split(",") if group.strip())


@hookimpl
def idx_add_settings() -> list[Setting]:
    return list(SETTINGS)


@hookimpl
def idx_authenticate(request: Request) -> AuthResult | None:
    return authenticate(request, request.registry["idx.settings"])


@hookimpl
def idx_configure(config: Configurator) -> None:
    settings: Settings = config.registry["idx.settings"]
    trusted = settings.get("remoteuser_trusted_proxies")
    if trusted:
        log.info("believing %s from %s", settings.get("remoteuser_header"), ", ".join(trusted))
    else:
        log.warning("idx-remoteuser: remoteuser_trusted_proxies is empty, so the user header is ignored")
