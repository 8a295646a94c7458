"""Fixtures for idx-web's tests: the in-process server with the plugin registered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import idx_web.plugin
import pytest
from idx_server import passwords
from idx_server.app import Core
from idx_server.testing import Mapp, settled_testapp
from idx_web.search.indexer import PLUGIN_NAME, SearchIndexer

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)


@pytest.fixture
def idx_plugins() -> tuple[object, ...]:
    return (idx_web.plugin,)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2, with the cheapest parameters (each login would cost ~0.15 s)."""
    cheap = passwords._context.copy(argon2__rounds=1, argon2__memory_cost=64, argon2__parallelism=1)
    monkeypatch.setattr(passwords, "_context", cheap)


@pytest.fixture
def indexer(testapp: Any, idx_core: Core) -> SearchIndexer:
    """The search indexer of the app, caught up."""
    plugin = idx_core.pm.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, SearchIndexer)
    assert plugin.wait_ready()
    return plugin


@pytest.fixture
def testapp(idx_core: Core) -> Iterator[Any]:
    """The core's ``testapp``, and afterwards idx-web's search index closed (its catch-up
    thread joined) before the core closes."""
    yield settled_testapp(idx_core)
    plugin = idx_core.pm.get_plugin(PLUGIN_NAME)
    if isinstance(plugin, SearchIndexer):
        idx_core.events.wait(10)
        plugin.close()


class Browser:
    """A browser's view of the in-process app: HTML Accept header, cookies kept."""

    def __init__(self, mapp: Mapp) -> None:
        self.mapp = mapp
        self.app = mapp.app

    def get(self, path: str, status: int | str = 200, **kwargs: Any) -> Any:
        return self.app.get(path, headers={"Accept": BROWSER_ACCEPT}, status=status, **kwargs)

    def post(self, path: str, params: dict[str, str], status: int | str = 303) -> Any:
        return self.app.post(path, params=params, headers={"Accept": BROWSER_ACCEPT}, status=status)

    def csrf(self, page: Any) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "the page has no form with a CSRF token"
        return match.group(1)

    def login(self, user: str, password: str = "secret") -> Any:
        form = self.get("/+login")
        response = self.post(
            "/+login",
            {"username": user, "password": password, "csrf_token": self.csrf(form), "came_from": "/"},
        )
        assert "idx_session" in self.app.cookies
        return response

    def logout(self) -> Any:
        page = self.get("/")
        return self.post("/+logout", {"csrf_token": self.csrf(page)})


@pytest.fixture
def browser(mapp: Mapp) -> Browser:
    return Browser(mapp)


@pytest.fixture
def wait_events(idx_core: Core) -> Any:
    def wait() -> None:
        assert idx_core.events.wait(10)

    return wait
