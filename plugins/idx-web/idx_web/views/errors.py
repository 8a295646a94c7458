"""Errors as pages for browsers (installers and JSON clients keep the core's answers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from idx_server.model.errors import IdxError
from idx_server.security import THROTTLED_KEY
from idx_server.views.common import outside_url
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.request import Request

from idx_web.layout import add_security_headers
from idx_web.session import CsrfError, session_from

ERROR_TEMPLATE = "idx_web:templates/error.jinja2"


def error_page(request: Request, status: int, title: str, message: str) -> dict[str, Any]:
    request.response.status = status
    add_security_headers(request)
    return {"status": status, "title": title, "message": message}


def idx_error(exc: IdxError, request: Request) -> dict[str, Any]:
    titles = {401: "Please log in", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
    title = titles.get(exc.status, "Something went wrong" if exc.status >= 500 else "Cannot do that")
    return error_page(request, exc.status, title, exc.message)


def forbidden(exc: HTTPForbidden, request: Request) -> Any:
    throttled = request.environ.get(THROTTLED_KEY)
    if throttled is not None:
        return error_page(request, 429, "Too many failed logins", throttled.message)
    if request.identity is None and request.method in ("GET", "HEAD"):
        came_from = quote(request.path_qs, safe="/")
        return HTTPSeeOther(location=f"{outside_url(request)}/+login?came_from={came_from}")
    if request.identity is None:
        if session_from(request) is not None:
            # A session whose credentials the tween withheld: the form lacked the CSRF token.
            return error_page(request, 403, "Form expired", CsrfError().message)
        return error_page(request, 401, "Please log in", "Log in to do this.")
    user = request.identity.user
    return error_page(request, 403, "Not allowed", f"User {user} may not do this here.")


def not_found(exc: HTTPNotFound, request: Request) -> dict[str, Any]:
    return error_page(request, 404, "Not found", f"There is no page at {request.path}.")
