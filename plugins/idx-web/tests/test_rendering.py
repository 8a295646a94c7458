"""Descriptions rendered safely, and the small template helpers."""

from __future__ import annotations

import pytest
from idx_web.filters import filesize, mark_snippet, when
from idx_web.pages.readme import render_description
from idx_web.search.query import exact_name, fts_expression
from idx_web.views.auth import safe_return_path


def test_markdown():
    html = render_description(
        "# Title\n\n```python\nx = 1\n```\n", "text/markdown; charset=UTF-8; variant=GFM"
    )
    assert "<h1" in html
    assert "Title" in html
    assert "<pre" in html


def test_restructuredtext_is_the_default():
    html = render_description("Title\n=====\n\n*emphasis*\n", "")
    assert "<em>emphasis</em>" in html


def test_broken_restructuredtext_falls_back_to_text():
    html = render_description("Title\n===\n\n.. unknown-directive::\n\n<b>x</b>", "text/x-rst")
    assert "&lt;b&gt;" in html


def test_plain_and_unknown_types_are_escaped():
    for content_type in ("text/plain", "application/weird"):
        html = render_description("<script>alert(1)</script>", content_type)
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "<iframe src=//evil></iframe>",
        '<div style="position:fixed">x</div>',
    ],
)
def test_markdown_is_sanitised(text):
    html = render_description(text, "text/markdown")
    for bad in ("<script", "onerror", "javascript:", "<iframe", "data:text/html", "style="):
        assert bad not in html


def test_empty_description():
    assert render_description("  \n", "text/markdown") == ""


def test_filesize():
    assert filesize(None) == "unknown size"
    assert filesize(999) == "999 bytes"
    assert filesize(1234567) == "1.2 MB"


def test_when():
    assert when("2026-01-31T12:34:56Z") == "2026-01-31 12:34 UTC"
    assert when("") == ""
    assert when("2026-01-31") == "2026-01-31"


def test_mark_snippet_escapes_everything_but_the_marks():
    assert mark_snippet("<b>\x02word\x03</b>") == "&lt;b&gt;<mark>word</mark>&lt;/b&gt;"


def test_fts_expression_takes_only_words():
    assert fts_expression('fast "json" OR NEAR(') == '"fast"* "json"* "OR"* "NEAR"*'
    assert fts_expression("  --- ") == ""
    assert exact_name(" Fast_JSON ") == "fast-json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/alice/dev?page=2", "/alice/dev?page=2"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_return_path(value, expected):
    assert safe_return_path(value) == expected
