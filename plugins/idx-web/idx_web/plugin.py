"""idx-web's hook implementations (the module named by the ``idx_server`` entry point)."""

from __future__ import annotations

from idx_server import hookimpl
from pyramid.config import Configurator


@hookimpl
def idx_configure(config: Configurator) -> None:
    """Add the pages, the search index and browser login to the application."""
    config.include("idx_web.web")
