"""Error types raised by services; the web layer turns each into one HTTP status.

Every message is meant for a person: it says what is wrong and, where it can,
what to do about it.
"""

from __future__ import annotations


class IdxError(Exception):
    """Base of all expected errors. ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(IdxError):
    """A request body, parameter or name is malformed."""

    status = 400


class InvalidUpload(IdxError):
    """An uploaded distribution was refused; the message says why."""

    status = 400


class Unauthorized(IdxError):
    """No (valid) credentials were given where some are needed."""

    status = 401


class Forbidden(IdxError):
    """The credentials are valid but do not allow this."""

    status = 403


class NotFound(IdxError):
    status = 404


class MethodNotAllowed(IdxError):
    status = 405


class Conflict(IdxError):
    """The request clashes with what is stored (existing file, existing user...)."""

    status = 409


class PayloadTooLarge(IdxError):
    status = 413


class TooManyRequests(IdxError):
    status = 429


class UpstreamError(IdxError):
    """A mirror's upstream answered with an error or garbage."""

    status = 502


class UpstreamUnavailable(IdxError):
    """A mirror's upstream could not be reached and nothing is cached."""

    status = 503


class UpstreamTimeout(IdxError):
    status = 504


class StorageUnavailable(IdxError):
    """The server cannot write right now (read-only or failing disk)."""

    status = 503


class InsufficientStorage(IdxError):
    """The disk is full."""

    status = 507
