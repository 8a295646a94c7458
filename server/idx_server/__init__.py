"""idx-server: a self-hosted Python package index.

Third-party plugins import the hook marker from here::

    from idx_server import hookimpl
"""

import pluggy

__version__ = "0.1.0"

#: Marker for implementations of idx-server hooks (see ``idx_server.hookspecs``).
hookimpl = pluggy.HookimplMarker("idx")

__all__ = ["__version__", "hookimpl"]
