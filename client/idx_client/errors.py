"""Expected errors: each carries a message for a person and the exit code to leave with."""

from __future__ import annotations


class ClientError(Exception):
    """An expected failure: printed as one ``error: ...`` line, exit status 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ClientError):
    """The command line is wrong (exit status 2, like argparse's own errors)."""

    exit_code = 2


class NotConfigured(ClientError):
    """No server or no index is in use yet."""


class ConnectionFailed(ClientError):
    """The server could not be reached at all."""

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"could not connect to {url}: {reason}")
        self.url = url


class InvalidDistribution(ClientError):
    """A local file is not a distribution idx can upload."""


class Aborted(ClientError):
    """The user said no (or could not be asked)."""
