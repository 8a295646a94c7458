"""The whole URL map (devpi's layout: ``+`` marks reserved segments, never names)."""

from __future__ import annotations

from pyramid.config import Configurator

U = "{user:[^+/][^/]*}"
I = "{index:[^+/][^/]*}"  # noqa: E741
P = "{project:[^+/][^/]*}"
V = "{version:[^+/][^/]*}"
F = "+f/{h3:[^/]{3}}/{h13:[^/]{13}}"
SLASH = "{slash:/?}"

ROOT = "idx_server.resources.RootResource"
USER = "idx_server.resources.UserResource"
INDEX = "idx_server.resources.IndexResource"


def includeme(config: Configurator) -> None:
    add = config.add_route
    # Server-wide
    add("api", "/+api", factory=ROOT)
    add("login", "/+login", factory=ROOT)
    add("logout", "/+logout", factory=ROOT)
    add("status", "/+status", factory=ROOT)
    add("metrics", "/+metrics", factory=ROOT)
    add("tokens", "/+tokens", factory=ROOT)
    add("token", "/+tokens/{token_id:\\d+}", factory=ROOT)
    add("root", "/", factory=ROOT)
    # Users
    add("user_api", f"/{U}/+api", factory=USER)
    add("user", f"/{U}{SLASH}", factory=USER)
    # Indexes (GET: devpi JSON or, by Accept, the simple project list; POST: upload or push)
    add("index_api", f"/{U}/{I}/+api", factory=INDEX)
    add("index", f"/{U}/{I}{SLASH}", factory=INDEX)
    # Simple API
    add("simple_list", f"/{U}/{I}/+simple{SLASH}", factory=INDEX)
    add("simple_refresh", f"/{U}/{I}/+simple/{P}/refresh", factory=INDEX)
    add("simple_project", f"/{U}/{I}/+simple/{P}{SLASH}", factory=INDEX)
    # Files, their PEP 658 metadata, and test results attached to them
    add("file_metadata", f"/{U}/{I}/{F}/{{filename:[^/]+\\.metadata}}", factory=INDEX)
    add("toxresult", f"/{U}/{I}/{F}/{{filename:[^/]+}}.toxresult-{{result_id:\\d+}}", factory=INDEX)
    add("file", f"/{U}/{I}/{F}/{{filename:[^/]+}}", factory=INDEX)
    # Projects and releases (devpi JSON; by Accept, installers' simple pages)
    add("project", f"/{U}/{I}/{P}{SLASH}", factory=INDEX)
    add("yank", f"/{U}/{I}/{P}/{V}/+yank", factory=INDEX)
    add("unyank", f"/{U}/{I}/{P}/{V}/+unyank", factory=INDEX)
    add("release", f"/{U}/{I}/{P}/{V}{SLASH}", factory=INDEX)
