"""What every page gets: the layout's variables and the security headers of HTML responses."""

from __future__ import annotations

from typing import Any

from idx_server import __version__ as server_version
from idx_server.views.common import current_user, outside_url
from pyramid.events import BeforeRender
from pyramid.request import Request

from idx_web import __version__
from idx_web.session import SAFE_METHODS, SESSION_COOKIE, csrf_token, forget

TEMPLATE_PREFIX = "idx_web:templates/"
LOGIN_TEMPLATE = TEMPLATE_PREFIX + "login.jinja2"

#: Pages need nothing from elsewhere but images in READMEs (badges); no inline scripts
#: or styles, no framing, forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # The same URL answers pip, JSON clients and browsers; pages differ per login.
    "Vary": "Accept, Cookie",
    "Cache-Control": "no-cache, private",
}


def add_security_headers(request: Request) -> None:
    request.response.headers.update(SECURITY_HEADERS)


def page_globals(event: BeforeRender) -> None:
    """Subscriber: fill in the layout for idx-web's templates (and only those)."""
    if not str(event.get("renderer_name", "")).startswith(TEMPLATE_PREFIX):
        return
    request: Request | None = event.get("request")
    if request is None:
        return
    add_security_headers(request)
    user = current_user(request)
    if not user and SESSION_COOKIE in request.cookies and request.method in SAFE_METHODS:
        forget(request.response)  # expired or revoked: stop sending it
    values: dict[str, Any] = {
        "base": outside_url(request),
        "static": f"{outside_url(request)}/+static/web-{__version__}",
        "session_user": user,
        "has_session": bool(user) and SESSION_COOKIE in request.cookies,
        # Anonymous pages get a token (and its cookie) only where there is a form to log in.
        "csrf_token": csrf_token(request) if user or event["renderer_name"] == LOGIN_TEMPLATE else "",
        "server_version": server_version,
        "here": request.path_qs,
    }
    for key, value in values.items():
        event.setdefault(key, value)
