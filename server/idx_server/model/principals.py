"""Principals (who an ACL entry means) and permissions."""

from __future__ import annotations

from collections.abc import Iterable

from idx_server.model.indexes import ANONYMOUS, AUTHENTICATED

EVERYONE = "system.Everyone"
AUTHENTICATED_PRINCIPAL = "system.Authenticated"
ROOT_PRINCIPAL = "user:root"

# Permissions
READ = "read"
USER_CREATE = "user_create"
USER_MODIFY = "user_modify"
USER_DELETE = "user_delete"
INDEX_CREATE = "index_create"
INDEX_MODIFY = "index_modify"
INDEX_DELETE = "index_delete"
UPLOAD = "upload"
DELETE = "delete"
YANK = "yank"
TOXRESULT_UPLOAD = "toxresult_upload"
PUSH_SOURCE = "read"

#: What a read-only token may do.
READ_ONLY_PERMISSIONS = frozenset({READ})
#: What an upload-scoped token may do.
UPLOAD_SCOPE_PERMISSIONS = frozenset({READ, UPLOAD, TOXRESULT_UPLOAD})


def principal_for(entry: str) -> str:
    """The principal an ``acl_*`` entry stands for."""
    if entry == ANONYMOUS:
        return EVERYONE
    if entry == AUTHENTICATED:
        return AUTHENTICATED_PRINCIPAL
    if entry.startswith(":") and len(entry) > 1:
        return "group:" + entry.strip(":")
    return "user:" + entry


def principals_for(entries: Iterable[str]) -> list[str]:
    return [principal_for(entry) for entry in entries]


def user_principals(user: str, groups: Iterable[str] = ()) -> list[str]:
    return [EVERYONE, AUTHENTICATED_PRINCIPAL, "user:" + user, *("group:" + g for g in groups)]
