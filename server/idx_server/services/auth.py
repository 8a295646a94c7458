"""Checking credentials: passwords, login tokens and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from idx_server.model.errors import NotFound, TooManyRequests, Unauthorized
from idx_server.model.users import User
from idx_server.passwords import verify_password
from idx_server.services.clock import now_iso
from idx_server.storage import MetaStore, Token

TOKEN_PREFIX = "idx_"  # noqa: S105 - not a secret: marks a string as a token
#: A verified password is remembered this long, so a client sending Basic auth on
#: every request (twine, pip) does not pay for an argon2 check each time.
PASSWORD_CACHE_SECONDS = 300.0
PASSWORD_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Identity:
    """Who a request is made by."""

    user: str
    groups: tuple[str, ...] = ()
    #: Set when the request authenticated with a token.
    token: Token | None = None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class LoginThrottle:
    """Refuses password attempts for a user or from an address after too many failures."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, ()) if t > now - self.window]
                self._failures[key] = recent
                if len(recent) >= self.limit:
                    wait = int(recent[0] + self.window - now) + 1
                    raise TooManyRequests(
                        f"too many failed logins for {key.split(':', 1)[1] or 'this client'}; "
                        f"try again in {wait} seconds"
                    )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            for key in keys:
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, user_key: str) -> None:
        with self._lock:
            self._failures.pop(user_key, None)


class AuthService:
    def __init__(self, store: MetaStore, login_expiry: int, trusted_proxies: Sequence[str] = ()) -> None:
        self.store = store
        self.login_expiry = login_expiry
        self.trusted_proxies = tuple(trusted_proxies)
        self.throttle = LoginThrottle()
        self._verified: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def check_password(self, user: User, password: str) -> bool:
        """Whether ``password`` is ``user``'s (argon2, with a short-lived cache of successes)."""
        key = hashlib.sha256(f"{user.name}\0{password}\0{user.pwhash}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._verified.get(key)
        if cached is not None and cached[1] > now and hmac.compare_digest(cached[0], user.pwhash):
            return True
        if not verify_password(password, user.pwhash):
            return False
        with self._lock:
            if len(self._verified) >= PASSWORD_CACHE_SIZE:
                self._verified.clear()
            self._verified[key] = (user.pwhash, now + PASSWORD_CACHE_SECONDS)
        return True

    def forget_passwords(self) -> None:
        with self._lock:
            self._verified.clear()

    def login(self, username: str, password: str, address: str = "") -> tuple[str, int]:
        """A new login token for ``username``; returns (token, seconds valid)."""
        if self._password_matches(username, password, address) is None:
            raise Unauthorized("invalid user name or password")
        secret = self.issue(username, kind="login", expires_in=self.login_expiry)
        return secret, self.login_expiry

    def _password_matches(self, username: str, password: str, address: str) -> User | None:
        keys = ("user:" + username, "addr:" + address)
        self.throttle.check(*keys)
        user = self.store.get_user(username)
        if user is None or not self.check_password(user, password):
            self.throttle.failed(*keys)
            return None
        self.throttle.succeeded(keys[0])
        return user

    def issue(
        self,
        user: str,
        kind: str,
        expires_in: int,
        scope: str = "",
        index: str = "",
        description: str = "",
    ) -> str:
        """Create a token; only its hash is stored, the secret is returned once."""
        secret = new_secret()
        now = time.time()
        token = Token(
            id=0,
            user=user,
            kind=kind,
            created=now_iso(),
            expires=now + expires_in if expires_in > 0 else 0.0,
            scope=scope,
            index=index,
            description=description,
        )
        with self.store.write():
            self.store.delete_expired_tokens(now)
            self.store.add_token(token, hash_secret(secret))
        return secret

    def token_for(self, secret: str) -> Token | None:
        """The valid token with this secret, or None."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        token = self.store.find_token(hash_secret(secret))
        if token is None or (token.expires and token.expires < time.time()):
            return None
        return token

    def revoke(self, secret: str) -> bool:
        token = self.store.find_token(hash_secret(secret))
        if token is None:
            return False
        with self.store.write():
            self.store.delete_token(token.id)
        return True

    def authenticate(self, username: str, secret: str, address: str = "") -> Identity | None:
        """The identity for a user name and a password or token, or None if they are wrong."""
        token = self.token_for(secret)
        if token is not None:
            if username not in ("", "__token__", token.user):
                return None
            if self.store.get_user(token.user) is None:
                return None
            return Identity(token.user, token=token)
        if secret.startswith(TOKEN_PREFIX) or username == "__token__":
            return None  # an unknown, expired or revoked token
        user = self._password_matches(username, secret, address)
        return Identity(user.name) if user else None

    def tokens(self, user: str) -> list[Token]:
        return self.store.list_tokens(user)

    def revoke_id(self, user: str, token_id: int, by_root: bool) -> None:
        token = next((t for t in self.store.list_tokens(user) if t.id == token_id), None)
        if token is None and not by_root:
            raise NotFound(f"user {user!r} has no token {token_id}")
        with self.store.write():
            self.store.delete_token(token_id)
