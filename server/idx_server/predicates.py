"""View predicates the core offers to plugins."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request

from idx_server.views.common import wants_browser


class BrowserPredicate:
    """``idx_browser=True`` matches requests from browsers (text/html preferred, no simple
    API or JSON type named); ``False`` matches everything else. A web UI registers its
    pages for the core's routes with it, and installers and JSON clients never see them."""

    def __init__(self, value: bool, config: Configurator) -> None:
        self.value = bool(value)

    def text(self) -> str:
        return f"idx_browser = {self.value}"

    phash = text

    def __call__(self, context: object, request: Request) -> bool:
        return wants_browser(request) == self.value


def includeme(config: Configurator) -> None:
    config.add_view_predicate("idx_browser", BrowserPredicate)
