"""Logging a browser in and out (``/+login``, ``/+logout`` for browsers)."""

from __future__ import annotations

from typing import Any

from idx_server.model.errors import TooManyRequests, Unauthorized
from idx_server.security import client_address
from idx_server.services.auth import AuthService
from idx_server.views.common import outside_url
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response

from idx_web.session import check_csrf, forget, remember, session_from


def safe_return_path(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/+login")) or "\\" in value:
        return "/"
    if any(ord(ch) < 32 for ch in value):
        return "/"
    return value


def login_form(request: Request) -> dict[str, Any]:
    return {"came_from": safe_return_path(request.GET.get("came_from")), "error": "", "username": ""}


def login(request: Request) -> Any:
    check_csrf(request)
    username = str(request.POST.get("username", "")).strip()
    password = str(request.POST.get("password", ""))
    came_from = safe_return_path(request.POST.get("came_from"))
    auth = request.find_service(AuthService)
    try:
        if not username or not password:
            raise Unauthorized("enter your user name and password")
        token, max_age = auth.login(username, password, client_address(auth, request))
    except (Unauthorized, TooManyRequests) as exc:
        request.response.status = 429 if isinstance(exc, TooManyRequests) else 200
        return {"came_from": came_from, "error": exc.message, "username": username}
    response = HTTPSeeOther(location=outside_url(request) + came_from)
    remember(request, response, username, token, max_age)
    return response


def logout(request: Request) -> Response:
    check_csrf(request)
    session = session_from(request)
    if session is not None:
        request.find_service(AuthService).revoke(session.token)
    response = HTTPSeeOther(location=outside_url(request) + "/")
    forget(response)
    return response
