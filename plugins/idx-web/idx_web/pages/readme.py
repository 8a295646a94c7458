"""Long descriptions rendered as PyPI renders them: readme_renderer, sanitised by nh3."""

from __future__ import annotations

import functools

from markupsafe import Markup
from readme_renderer import markdown, rst, txt

#: Rendered descriptions kept in memory (rendering a long README takes milliseconds).
CACHE_SIZE = 256


def render_description(text: str, content_type: str) -> Markup:
    """Safe HTML for a release's description, whatever its declared content type.

    Unknown types and reStructuredText that does not parse fall back to plain text,
    as on PyPI; a missing type means reStructuredText (the metadata default).
    """
    if not text.strip():
        return Markup("")
    return Markup(_render(text, content_type.strip().lower()))  # noqa: S704 - sanitised by nh3


@functools.lru_cache(maxsize=CACHE_SIZE)
def _render(text: str, content_type: str) -> str:
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip()
    rendered: str | None = None
    if media_type == "text/markdown":
        variant = _parameter(parameters, "variant") or "GFM"
        rendered = markdown.render(text, variant=variant if variant in ("GFM", "CommonMark") else "GFM")
    elif media_type in ("", "text/x-rst"):
        rendered = rst.render(text)
    if rendered is None:
        rendered = f'<div class="plain">{txt.render(text)}</div>'
    return rendered


def _parameter(parameters: str, name: str) -> str:
    for part in parameters.split(";"):
        key, _, value = part.partition("=")
        if key.strip() == name:
            return value.strip().strip('"')
    return ""
