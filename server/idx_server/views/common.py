"""Small helpers shared by views: JSON envelopes, content negotiation, URLs, bodies."""

from __future__ import annotations

import json
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from webob.acceptparse import create_accept_header

from idx_server.model.errors import InvalidInput, PayloadTooLarge
from idx_server.render.simple import HTML_TYPE, JSON_TYPE, TEXT_HTML
from idx_server.services.auth import Identity

APPLICATION_JSON = "application/json"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"
_LATEST = {LATEST_JSON: JSON_TYPE, LATEST_HTML: HTML_TYPE}
SIMPLE_TYPES = (JSON_TYPE, HTML_TYPE, TEXT_HTML)
MAX_JSON_BODY = 10 * 1024 * 1024


def json_response(
    request: Request, kind: str, result: Any, status: int = 200, message: str | None = None
) -> Response:
    """devpi's envelope: ``{"type": kind, "result": result[, "message": message]}``."""
    data: dict[str, Any] = {"type": kind, "result": result}
    if message:
        data["message"] = message
    response = Response(
        body=json.dumps(data, indent=None, separators=(",", ":")).encode("utf-8"),
        content_type=APPLICATION_JSON,
        charset="utf-8",
        status=status,
    )
    # The same URLs serve pages to browsers and simple pages to installers.
    response.vary = ("Accept",)
    return response


def message_response(request: Request, message: str, status: int = 200) -> Response:
    return json_response(request, "message", None, status=status, message=message)


def read_json(request: Request) -> Any:
    """The request body as JSON; a clear 400 if it is not."""
    length = request.content_length or 0
    if length > MAX_JSON_BODY:
        raise PayloadTooLarge(f"the JSON body is too large ({length} bytes, limit {MAX_JSON_BODY})")
    body = request.body
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None


def read_json_object(request: Request) -> dict[str, Any]:
    data = read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def current_user(request: Request) -> str:
    identity: Identity | None = request.identity
    return identity.user if identity else ""


def outside_url(request: Request) -> str:
    """The server's public base URL, without a trailing slash."""
    header: str | None = request.headers.get("X-Outside-Url")
    if header:
        return header.rstrip("/")
    configured: str = request.registry["idx.settings"].outside_url
    if configured:
        return configured.rstrip("/")
    application_url: str = request.application_url
    return application_url.rstrip("/")


def index_url(request: Request, index_name: str) -> str:
    return f"{outside_url(request)}/{index_name}/"


def wants_simple(request: Request, json_first: bool) -> str | None:
    """Which simple-API media type the client wants, or None if it wants devpi's JSON.

    ``?format=`` wins over ``Accept``. With ``json_first`` (devpi's JSON URLs), a
    plain ``*/*`` gets devpi JSON; browsers' ``text/html`` and installers' simple types
    get the simple API.
    """
    fmt = request.GET.get("format") if request.query_string else None
    if fmt:
        return simple_format(fmt)
    key = (request.headers.get("Accept") or "", json_first)
    cached = _NEGOTIATED.get(key, _MISSING)
    if cached is _MISSING:
        if len(_NEGOTIATED) > 1024:
            _NEGOTIATED.clear()
        cached = _NEGOTIATED[key] = _negotiate(request, json_first)
    return cached  # type: ignore[return-value]


#: Clients send a handful of distinct Accept headers: each is negotiated once.
_NEGOTIATED: dict[tuple[str, bool], str | None] = {}
_MISSING = object()
_JSON_FIRST_OFFERS = [APPLICATION_JSON, *SIMPLE_TYPES, LATEST_JSON, LATEST_HTML]
_SIMPLE_OFFERS = [TEXT_HTML, HTML_TYPE, JSON_TYPE, LATEST_JSON, LATEST_HTML, APPLICATION_JSON]


def negotiate_simple(accept_header: str) -> str | None:
    """The simple-API media type for an ``Accept`` header (cached), for the fast path."""
    key = (accept_header, False)
    cached = _NEGOTIATED.get(key, _MISSING)
    if cached is _MISSING:
        if len(_NEGOTIATED) > 1024:
            _NEGOTIATED.clear()
        cached = _NEGOTIATED[key] = _negotiate_header(accept_header, json_first=False)
    return cached  # type: ignore[return-value]


def _negotiate(request: Request, json_first: bool) -> str | None:
    return _negotiate_header(request.headers.get("Accept") or "", json_first)


def _negotiate_header(header: str, json_first: bool) -> str | None:
    accept = create_accept_header(header) if header else None
    matches = accept.acceptable_offers(_JSON_FIRST_OFFERS if json_first else _SIMPLE_OFFERS) if accept else []
    best = matches[0][0] if matches else (APPLICATION_JSON if json_first else TEXT_HTML)
    if best == APPLICATION_JSON:
        return None if json_first else TEXT_HTML
    return _LATEST.get(best, best)


def simple_format(fmt: str) -> str:
    fmt = fmt.strip()
    if fmt in SIMPLE_TYPES:
        return fmt
    if fmt in _LATEST:
        return _LATEST[fmt]
    raise NotAcceptableFormat(fmt)


class NotAcceptableFormat(InvalidInput):
    status = 406

    def __init__(self, fmt: str) -> None:
        super().__init__(
            f"format {fmt!r} is not offered; use one of {', '.join(SIMPLE_TYPES)} (or the 'latest' variants)"
        )


def flag(request: Request, name: str) -> bool:
    """A query flag such as ``?force`` or ``?force=1``."""
    if name not in request.GET:
        return False
    return request.GET.get(name, "").lower() not in ("0", "false", "no", "off")


#: User-Agent prefixes of installers (devpi's list), never treated as browsers.
INSTALLER_AGENTS = ("pip/", "uv/", "setuptools/", "distribute/", "pex/", "poetry/", "pdm/")


def wants_browser(request: Request) -> bool:
    """Whether the client is a browser: it names text/html and prefers it, and names no
    simple API type. A bare ``*/*`` (requests, twine, curl) is not a browser."""
    accept = request.accept
    if not accept:
        return False
    agent = request.headers.get("User-Agent") or ""
    if agent.startswith(INSTALLER_AGENTS):
        return False  # old pip (before 22.2) names only text/html
    header = str(accept)
    if TEXT_HTML not in header or "application/vnd.pypi" in header:
        return False
    offers = accept.acceptable_offers([TEXT_HTML, APPLICATION_JSON, JSON_TYPE, HTML_TYPE])
    return bool(offers) and offers[0][0] == TEXT_HTML
