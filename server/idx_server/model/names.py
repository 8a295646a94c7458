"""Names of users, indexes and projects."""

from __future__ import annotations

import re

from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from idx_server.model.errors import InvalidInput

# User and index names: devpi's rule (no whitespace, control characters or
# punctuation that has a meaning in URLs, headers or ACL principals), plus no
# leading dot or dash. "+" is reserved for system routes such as /+api.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")  # fullmatch: "$" would allow "bob\n"

RESERVED_USER_NAMES = frozenset({"simple", "static", "favicon.ico", "robots.txt"})


def validate_user_name(name: str) -> str:
    """Return ``name`` if it can be a user name, else raise :class:`InvalidInput`."""
    if not _NAME_RE.fullmatch(name) or name.lower() in RESERVED_USER_NAMES:
        raise InvalidInput(
            f"invalid user name {name!r}: use 1 to 64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter, digit or '_'"
        )
    return name


def validate_index_name(name: str) -> str:
    """Return ``name`` if it can be an index name, else raise :class:`InvalidInput`."""
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid index name {name!r}: use 1 to 64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter, digit or '_'"
        )
    return name


def split_index_name(spec: str) -> tuple[str, str]:
    """Split ``"user/index"`` into its parts, validating both."""
    user, sep, index = spec.strip("/").partition("/")
    if not sep or "/" in index:
        raise InvalidInput(f"invalid index {spec!r}: expected 'user/index'")
    return validate_user_name(user), validate_index_name(index)


def project_name(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a project name; invalid names raise :class:`InvalidInput`."""
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName:
        raise InvalidInput(f"invalid project name {name!r}") from None


def is_valid_project_name(name: str) -> bool:
    try:
        canonicalize_name(name, validate=True)
    except InvalidName:
        return False
    return True
