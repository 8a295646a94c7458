"""Password hashing: the only module that imports passlib (from the libpass distribution)."""

from __future__ import annotations

from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2"], deprecated="auto")


def hash_password(password: str) -> str:
    """An argon2 hash of ``password``."""
    return str(_context.hash(password))


def verify_password(password: str, pwhash: str) -> bool:
    """Whether ``password`` matches ``pwhash`` (constant time; False for an empty hash)."""
    if not pwhash:
        return False
    try:
        return bool(_context.verify(password, pwhash))
    except (ValueError, TypeError):
        return False


def needs_update(pwhash: str) -> bool:
    """Whether ``pwhash`` uses outdated parameters and should be rehashed at the next login."""
    return bool(_context.needs_update(pwhash))
