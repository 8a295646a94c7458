"""idx-client: the command-line client of idx."""

__version__ = "0.1.0"
