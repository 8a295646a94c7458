"""idx-web's part of the Pyramid application: templates, static files, the session tween,
its routes and its views.

Pages for the core's routes are registered with ``idx_browser=True`` (and
``accept="text/html"``, so they are tried before the core's JSON views for a browser's
``*/*``): browsers get pages, pip and uv keep the simple API, JSON clients keep JSON.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from idx_server.app import Core
from idx_server.model.errors import IdxError
from idx_server.model.principals import DELETE, READ, YANK
from idx_server.routes import INDEX, ROOT, I, P, U, V
from idx_server.services.indexes import IndexService
from idx_server.settings import Settings
from pyramid.config import Configurator
from pyramid.events import BeforeRender

from idx_web import __version__
from idx_web.layout import LOGIN_TEMPLATE, page_globals
from idx_web.search.indexer import PLUGIN_NAME, SearchIndexer
from idx_web.search.store import SearchStore
from idx_web.views import actions, auth, browse, errors, project, search

log = logging.getLogger("idx.web")

T = "idx_web:templates/"
PAGE = {"idx_browser": True, "accept": "text/html"}


def includeme(config: Configurator) -> None:
    _templates(config)
    config.add_static_view(f"+static/web-{__version__}", "idx_web:static", cache_max_age=365 * 86400)
    config.add_tween("idx_web.session.session_tween_factory")
    config.add_subscriber(page_globals, BeforeRender)
    _search(config)
    config.add_route("web_search", "/+search", factory=ROOT)
    config.add_route("web_delete", f"/{U}/{I}/{P}/{V}/+delete", factory=INDEX)
    _pages(config)
    _actions(config)
    _errors(config)


def _templates(config: Configurator) -> None:
    config.add_settings(
        {
            "idx_web.jinja2.directories": "idx_web:templates",
            "idx_web.jinja2.undefined": "strict",
            "idx_web.jinja2.trim_blocks": "true",
            "idx_web.jinja2.lstrip_blocks": "true",
            "idx_web.jinja2.filters": "\n".join(
                [
                    "filesize = idx_web.filters:filesize",
                    "when = idx_web.filters:when",
                    "short_hash = idx_web.filters:short_hash",
                    "mark_snippet = idx_web.filters:mark_snippet",
                ]
            ),
        }
    )
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2", settings_prefix="idx_web.jinja2.")


def _pages(config: Configurator) -> None:
    view = config.add_view
    view(
        browse.root_page,
        route_name="root",
        request_method="GET",
        permission=READ,
        renderer=T + "root.jinja2",
        **PAGE,
    )
    view(
        browse.user_page,
        route_name="user",
        request_method="GET",
        permission=READ,
        renderer=T + "user.jinja2",
        **PAGE,
    )
    view(
        browse.index_view,
        route_name="index",
        request_method="GET",
        permission=READ,
        renderer=T + "index.jinja2",
        **PAGE,
    )
    view(
        project.project_view,
        route_name="project",
        request_method="GET",
        permission=READ,
        renderer=T + "project.jinja2",
        **PAGE,
    )
    view(
        project.release_view,
        route_name="release",
        request_method="GET",
        permission=READ,
        renderer=T + "release.jinja2",
        **PAGE,
    )
    view(
        search.search_view,
        route_name="web_search",
        request_method="GET",
        permission=READ,
        renderer=T + "search.jinja2",
    )
    view(auth.login_form, route_name="login", request_method="GET", renderer=LOGIN_TEMPLATE, **PAGE)
    view(auth.login, route_name="login", request_method="POST", renderer=LOGIN_TEMPLATE, **PAGE)
    view(auth.logout, route_name="logout", request_method="POST", **PAGE)


def _actions(config: Configurator) -> None:
    view = config.add_view
    view(actions.yank, route_name="yank", request_method="POST", permission=YANK, **PAGE)
    view(actions.unyank, route_name="unyank", request_method="POST", permission=YANK, **PAGE)
    view(
        actions.confirm_delete,
        route_name="web_delete",
        request_method="GET",
        permission=DELETE,
        renderer=T + "delete.jinja2",
    )
    view(actions.delete, route_name="web_delete", request_method="POST", permission=DELETE)


def _errors(config: Configurator) -> None:
    renderer = errors.ERROR_TEMPLATE
    config.add_exception_view(errors.idx_error, context=IdxError, renderer=renderer, idx_browser=True)
    config.add_forbidden_view(errors.forbidden, renderer=renderer, idx_browser=True)
    config.add_notfound_view(errors.not_found, renderer=renderer, idx_browser=True)


def _search(config: Configurator) -> None:
    """Open the search index, hook it to the server's events and start the catch-up."""
    registry: Any = config.registry
    core: Core = registry["idx.core"]
    settings: Settings = registry["idx.settings"]
    pm = core.pm
    previous = pm.get_plugin(PLUGIN_NAME)
    if isinstance(previous, SearchIndexer):
        # The application is being built again around the same core (tests do that).
        pm.unregister(previous)
        previous.close()
    try:
        store = SearchStore(Path(settings.serverdir) / "+web" / "search.sqlite3")
    except (OSError, sqlite3.Error) as exc:
        # E.g. a read-only server directory: pages work, search does not.
        log.error("idx-web: the search index cannot be opened (%s); search is unavailable", exc)
        return
    indexer = SearchIndexer(store, core.service(IndexService), core.store)
    pm.register(indexer, name=PLUGIN_NAME)
    registry["idx_web.search"] = indexer
    indexer.start_catch_up()
