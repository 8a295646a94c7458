"""Browser sessions: a login token in an HttpOnly cookie, and CSRF protection.

The cookie holds ``user:token`` where the token is a login token from idx-server's
AuthService: it expires like any login and logout revokes it. A tween turns the cookie
into the ``X-Devpi-Auth`` credentials idx-server's security policy already checks, so
permissions are decided by the core, never here. It does so only

- for safe methods (GET, HEAD, OPTIONS), and
- for form posts that carry this session's CSRF token,

so another site can neither make a logged-in browser change anything (uploads, JSON
API calls and forms without the token run anonymously) nor log it in (the login form
carries a double-submit token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from idx_server.model.errors import Forbidden
from idx_server.security import request_credentials
from idx_server.views.common import outside_url
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

SESSION_COOKIE = "idx_session"
LOGIN_CSRF_COOKIE = "idx_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPE = "application/x-www-form-urlencoded"
#: Forms are small; a larger body is not read looking for a CSRF token.
MAX_FORM_BYTES = 64 * 1024

Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Session:
    user: str
    token: str

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.token.encode(), b"idx-web csrf", hashlib.sha256).hexdigest()


class CsrfError(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "the form was not sent from this server's pages, or it expired; reload the page and try again"
        )


def encode_session(user: str, token: str) -> str:
    return base64.urlsafe_b64encode(f"{user}:{token}".encode()).decode().rstrip("=")


def session_from(request: Request) -> Session | None:
    """The session the cookie names (not yet checked against the server's tokens)."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value or len(value) > 1024:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, token = decoded.partition(":")
    if not sep or not user or not token:
        return None
    return Session(user, token)


def submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return str(header)
    if request.content_type != FORM_TYPE or (request.content_length or 0) > MAX_FORM_BYTES:
        return ""
    return str(request.POST.get(CSRF_FIELD, ""))


def csrf_valid(request: Request, expected: str) -> bool:
    submitted = submitted_csrf(request)
    return bool(submitted and expected) and hmac.compare_digest(submitted, expected)


def check_csrf(request: Request) -> None:
    """Refuse an unsafe request without this session's (or login form's) CSRF token."""
    if request.method in SAFE_METHODS:
        return
    session = session_from(request)
    expected = session.csrf_token if session else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_valid(request, expected):
        raise CsrfError()


def csrf_token(request: Request) -> str:
    """The token forms on this page must carry: the session's, or before login a random
    value also set as a cookie (double submit)."""
    session = session_from(request)
    if session is not None and request.identity is not None:
        return session.csrf_token
    token: str | None = request.environ.get("idx_web.login_csrf")
    if token is None:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.environ["idx_web.login_csrf"] = token
        if request.cookies.get(LOGIN_CSRF_COOKIE) != token:
            _cookie_options = cookie_options(request)
            request.add_response_callback(
                lambda _req, response: response.set_cookie(LOGIN_CSRF_COOKIE, token, **_cookie_options)
            )
    return token


def cookie_options(request: Request) -> dict[str, object]:
    secure = request.scheme == "https" or outside_url(request).startswith("https://")
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


def remember(request: Request, response: Response, user: str, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, encode_session(user, token), max_age=max_age, **cookie_options(request)
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")


def forget(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """Let a session cookie stand for credentials where that is safe (see the module doc)."""

    def session_tween(request: Request) -> Response:
        session = session_from(request)
        if session is not None and request_credentials(request) is None and _may_act(request, session):
            credentials = base64.b64encode(f"{session.user}:{session.token}".encode()).decode()
            request.environ["HTTP_X_DEVPI_AUTH"] = credentials
        return handler(request)

    return session_tween


def _may_act(request: Request, session: Session) -> bool:
    return request.method in SAFE_METHODS or csrf_valid(request, session.csrf_token)
