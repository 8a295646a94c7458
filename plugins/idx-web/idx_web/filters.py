"""Jinja2 filters for idx-web's templates."""

from __future__ import annotations

from markupsafe import Markup, escape

from idx_web.search.store import MARK_END, MARK_START

_UNITS = ("bytes", "kB", "MB", "GB", "TB")


def filesize(size: int | None) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, as PyPI shows them)."""
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def when(timestamp: str) -> str:
    """An ISO timestamp as ``2026-01-31 12:34 UTC`` (the full one goes in a title)."""
    if not timestamp:
        return ""
    date, _, rest = timestamp.partition("T")
    if not rest:
        return date
    return f"{date} {rest[:5]} UTC"


def short_hash(value: str, length: int = 12) -> str:
    return value[:length] + "…" if len(value) > length else value


def mark_snippet(snippet: str) -> Markup:
    """A search snippet, escaped, with the matched words in ``<mark>``."""
    escaped = str(escape(snippet))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))  # noqa: S704
