"""idx-client: the command-line client of idx."""

import pluggy

__version__ = "0.1.0"

#: Marks a plugin's hook implementations (``@hookimpl def idx_client_commands(): ...``).
hookimpl = pluggy.HookimplMarker("idx_client")
