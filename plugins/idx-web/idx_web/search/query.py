"""Turning what a person types into a safe FTS5 expression."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

MAX_TERMS = 8
MAX_QUERY_LENGTH = 200
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_expression(text: str) -> str:
    """Every word must match, each as a prefix (``req sess`` finds requests-session).

    Operators and quotes typed by the user are not FTS5 syntax here: only words count,
    so no input can make the query invalid. Returns "" when there is no word.
    """
    words = _WORD.findall(text[:MAX_QUERY_LENGTH])[:MAX_TERMS]
    return " ".join(f'"{word}"*' for word in words)


def exact_name(text: str) -> str:
    """The normalized project name the query would be, to rank an exact match first."""
    return canonicalize_name(text.strip()[:MAX_QUERY_LENGTH])
