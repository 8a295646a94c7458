"""idx-web: the web UI of idx-server (pages for browsers, search, browser login).

Installed, it is found through the ``idx_server`` entry-point group; see ``docs/web.md``.
"""

__version__ = "0.1.0"
