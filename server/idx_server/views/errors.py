"""Errors become responses here, in one place: a status, the message in the body and
in the status line's reason (twine and poetry print the reason), never a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_to_bytes

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPException, HTTPForbidden, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response

from idx_server.model.errors import IdxError
from idx_server.model.principals import (
    DELETE,
    INDEX_CREATE,
    INDEX_DELETE,
    INDEX_MODIFY,
    READ,
    TOXRESULT_UPLOAD,
    UPLOAD,
    USER_CREATE,
    USER_DELETE,
    USER_MODIFY,
    YANK,
)
from idx_server.security import THROTTLED_KEY, credentials_given

log = logging.getLogger("idx.errors")

REALM = 'Basic realm="idx"'
_MAX_REASON = 400

_ACTIONS = {
    READ: "read {target}",
    UPLOAD: "upload to {target}",
    DELETE: "delete from {target}",
    YANK: "yank releases on {target}",
    TOXRESULT_UPLOAD: "attach test results on {target}",
    INDEX_CREATE: "create indexes for user {user}",
    INDEX_MODIFY: "modify {target}",
    INDEX_DELETE: "delete {target}",
    USER_CREATE: "create users",
    USER_MODIFY: "modify user {user}",
    USER_DELETE: "delete user {user}",
}


def reason_phrase(message: str) -> str:
    """A status-line-safe version of ``message`` (one line, ISO-8859-1, bounded)."""
    line = " ".join(message.split())
    line = line.encode("latin-1", errors="replace").decode("latin-1")
    return line[:_MAX_REASON]


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    accept = request.accept
    offers = accept.acceptable_offers(["application/json", "text/plain"]) if accept else []
    if not offers or offers[0][0] == "application/json":
        body = json.dumps({"type": "error", "status": status, "message": message}).encode("utf-8")
        content_type = "application/json"
    else:
        body = (message + "\n").encode("utf-8")
        content_type = "text/plain"
    response = Response(body=body, content_type=content_type, charset="utf-8")
    if "application/json" in (request.headers.get("Accept") or ""):
        # JSON clients (devpi-client) print the reason and the body's message: keep the
        # standard reason so the message is shown once.
        response.status = status
    else:
        # twine, poetry and pip print only the reason: it carries the message.
        response.status = f"{status} {reason_phrase(message)}"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def idx_error_view(exc: IdxError, request: Request) -> Response:
    throttled = request.environ.get(THROTTLED_KEY)
    if exc.status == 401 and throttled is not None:
        return error_response(request, 429, throttled.message, {"Retry-After": "60"})
    headers = {"WWW-Authenticate": REALM} if exc.status == 401 else None
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.path, exc.message)
    return error_response(request, exc.status, exc.message, headers)


def forbidden_view(exc: HTTPForbidden, request: Request) -> Response:
    action = describe_denial(request, exc)
    throttled = request.environ.get(THROTTLED_KEY)
    if throttled is not None:
        return error_response(request, 429, throttled.message, {"Retry-After": "60"})
    if request.identity is None:
        if credentials_given(request):
            message = f"invalid user name, password or token; cannot {action}"
        else:
            message = f"authentication required to {action}"
        return error_response(request, 401, message, {"WWW-Authenticate": REALM})
    user = request.identity.user
    return error_response(request, 403, f"user {user!r} may not {action}")


def describe_denial(request: Request, exc: HTTPForbidden) -> str:
    """What the refused request tried to do, e.g. "upload to alice/dev" (for messages)."""
    permission = getattr(getattr(exc, "result", None), "permission", None) or ""
    context = request.context
    target = getattr(context, "index_name", None) or "this server"
    user = getattr(context, "user_name", "")
    template = _ACTIONS.get(permission, "do this")
    return template.format(target=target, user=user)


def notfound_view(exc: HTTPNotFound, request: Request) -> Response:
    return error_response(request, 404, f"no such page: {request.path}")


def http_exception_view(exc: HTTPException, request: Request) -> Any:
    return exc


def undecodable_url_view(exc: UnicodeDecodeError, request: Request) -> Response:
    """A path or query that is not UTF-8 (``/%FF``) is the client's mistake: a 400."""
    environ = request.environ
    path = environ.get("PATH_INFO", "").encode("latin-1", "replace")  # WSGI: decoded already
    query = unquote_to_bytes(environ.get("QUERY_STRING", "").encode("latin-1", "replace"))
    try:
        path.decode("utf-8")
        query.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(request, 400, "the URL is not valid UTF-8: percent-encode UTF-8 bytes")
    return unexpected_error_view(exc, request)


def unexpected_error_view(exc: Exception, request: Request) -> Response:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(
        request, 500, "internal server error; the server log has the details (please report it)"
    )


def includeme(config: Configurator) -> None:
    config.add_exception_view(idx_error_view, context=IdxError)
    config.add_forbidden_view(forbidden_view)
    config.add_notfound_view(notfound_view)
    config.add_exception_view(http_exception_view, context=HTTPException)
    config.add_exception_view(undecodable_url_view, context=UnicodeDecodeError)
    config.add_exception_view(unexpected_error_view, context=Exception)
