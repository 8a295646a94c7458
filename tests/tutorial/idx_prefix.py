# The plugin of the tutorial in docs/plugins.md, which shows the code between the markers.
# --8<-- [start:plugin]
"""idx-prefix: uploads must be of projects whose names start with an agreed prefix."""

from idx_server import hookimpl
from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidUpload
from idx_server.settings import Setting


class PrefixPolicy:
    def __init__(self):
        self.prefix = ""
        self.refused = 0

    @hookimpl
    def idx_add_settings(self):
        return [Setting("prefix_required", cv.STR, "", "Uploads must be of projects named so.")]

    @hookimpl
    def idx_configure(self, config):
        self.prefix = config.registry["idx.settings"].get("prefix_required")

    @hookimpl
    def idx_validate_upload(self, candidate):
        if self.prefix and not candidate.project.startswith(self.prefix):
            self.refused += 1
            raise InvalidUpload(f"{candidate.project}: project names must start with {self.prefix!r}")

    @hookimpl
    def idx_metrics(self):
        return [("prefix_refused_uploads", "counter", self.refused)]


plugin = PrefixPolicy()
# --8<-- [end:plugin]
