"""Response headers shared by the Pyramid views and the fast path (pure: no I/O)."""

from __future__ import annotations

from idx_server import __version__
from idx_server.render.simple import TEXT_HTML

PRIVATE_CACHE_CONTROL = "max-age=0, must-revalidate"
MIRROR_CACHE_CONTROL = "max-age=600"
IMMUTABLE = "max-age=31536000, immutable"

#: Sent with every HTML response unless a view set its own (a web UI sets a fuller CSP).
HTML_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def content_type_header(media_type: str) -> str:
    return media_type + "; charset=utf-8" if media_type == TEXT_HTML else media_type


def page_headers(etag: str, stale: tuple[str, ...], mirror_only: bool) -> dict[str, str]:
    """Caching headers of a simple page: private indexes revalidate every time (a fresh
    upload is seen at once), pure mirrors may be cached for 10 minutes, stale pages not."""
    headers = {
        "Vary": "Accept, Accept-Encoding",
        "ETag": etag,
        "Cache-Control": MIRROR_CACHE_CONTROL if mirror_only else PRIVATE_CACHE_CONTROL,
    }
    if stale:
        headers["X-Idx-Stale"] = ", ".join(stale)
        headers["Warning"] = '110 idx "Response is Stale: upstream could not be reached"'
        headers["Cache-Control"] = "no-cache"
    return headers


def file_headers(sha256: str, filename: str) -> dict[str, str]:
    return {
        "ETag": f'"{sha256}"',
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }


def streamed_file_headers(filename: str, content_type: str, size: int | None) -> list[tuple[str, str]]:
    """A mirror file streamed from upstream while it is cached: no ETag or caching yet
    (its bytes are verified only at the end), and a proxy in front must not buffer it."""
    headers = [
        ("Content-Type", content_type or "application/octet-stream"),
        ("Content-Disposition", f'attachment; filename="{filename}"'),
        ("X-Accel-Buffering", "no"),
    ]
    if size is not None:
        headers.append(("Content-Length", str(size)))
    return headers


def server_headers(serial: int, uuid: str, content_type: str) -> list[tuple[str, str]]:
    """What every response carries: the serial (idx's and devpi's names), devpi's API
    headers, nosniff, and for HTML the security headers."""
    headers = [
        ("X-Idx-Serial", str(serial)),
        ("X-Devpi-Serial", str(serial)),
        ("X-Devpi-Api-Version", "2"),
        ("X-Devpi-Server-Version", __version__),
        ("X-Devpi-Uuid", uuid),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if content_type.startswith(TEXT_HTML) or "html" in content_type.split(";", 1)[0]:
        headers.extend(HTML_SECURITY_HEADERS)
    return headers
