"""Password hashing: the only module that imports passlib (from the libpass distribution).

argon2id with OWASP's recommended parameters (19 MiB, 2 passes): each check costs a few
milliseconds and 19 MiB, and at most two run at once, so a burst of logins cannot make
the server's memory balloon. Hashes made with other parameters (e.g. imported from
devpi) still verify.
"""

from __future__ import annotations

import threading

from passlib.context import CryptContext

_context = CryptContext(
    schemes=["argon2"],
    deprecated="auto",
    argon2__memory_cost=19456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
_slots = threading.BoundedSemaphore(2)


def hash_password(password: str) -> str:
    """An argon2 hash of ``password``."""
    with _slots:
        return str(_context.hash(password))


def verify_password(password: str, pwhash: str) -> bool:
    """Whether ``password`` matches ``pwhash`` (constant time; False for an empty hash)."""
    if not pwhash:
        return False
    try:
        with _slots:
            return bool(_context.verify(password, pwhash))
    except (ValueError, TypeError):
        return False


def needs_update(pwhash: str) -> bool:
    """Whether ``pwhash`` uses outdated parameters and should be rehashed at the next login."""
    return bool(_context.needs_update(pwhash))
