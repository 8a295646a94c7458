"""PEP 503 / 691 / 700 / 714 / 792 pages, as bytes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html import escape
from typing import NamedTuple

from packaging.utils import canonicalize_name

API_VERSION = "1.4"

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"


class PageFile(NamedTuple):
    """One file as the simple API shows it (a named tuple: a page of a project with
    9,000 files makes 9,000 of these, and a frozen dataclass costs three times as much
    to create)."""

    filename: str
    #: Path relative to the index root, e.g. ``+f/abc/def.../name.whl``.
    path: str
    hashes: dict[str, str]
    size: int | None
    upload_time: str
    requires_python: str = ""
    #: Hashes of the PEP 658 metadata file; None when none is served.
    core_metadata: dict[str, str] | None = None
    yanked: bool = False
    yanked_reason: str = ""
    origin: str = ""


@dataclass(frozen=True)
class ProjectPage:
    name: str
    versions: tuple[str, ...]
    files: tuple[PageFile, ...]
    status: str = "active"
    status_reason: str = ""


def project_json(page: ProjectPage, base: str) -> bytes:
    files = []
    for f in page.files:
        entry: dict[str, object] = {"filename": f.filename, "url": base + f.path, "hashes": f.hashes}
        if f.requires_python:
            entry["requires-python"] = f.requires_python
        if f.core_metadata is not None:
            entry["core-metadata"] = f.core_metadata or True
            entry["dist-info-metadata"] = f.core_metadata or True
        else:
            entry["core-metadata"] = False
        if f.size is not None:
            entry["size"] = f.size
        if f.upload_time:
            entry["upload-time"] = f.upload_time
        entry["yanked"] = (f.yanked_reason or True) if f.yanked else False
        files.append(entry)
    status: dict[str, str] = {"status": page.status}
    if page.status_reason:
        status["reason"] = page.status_reason
    data = {
        "meta": {"api-version": API_VERSION},
        "name": page.name,
        "versions": list(page.versions),
        "files": files,
        "project-status": status,
    }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _attr(name: str, value: str) -> str:
    return f' {name}="{escape(value, quote=True)}"'


def project_html(page: ProjectPage, base: str) -> bytes:
    name = escape(page.name)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        f'<meta name="pypi:project-status" content="{escape(page.status, quote=True)}">',
    ]
    if page.status_reason:
        lines.append(
            f'<meta name="pypi:project-status-reason" content="{escape(page.status_reason, quote=True)}">'
        )
    lines += [f"<title>Links for {name}</title>", "</head>", "<body>", f"<h1>Links for {name}</h1>"]
    for f in page.files:
        href = base + f.path
        sha256 = f.hashes.get("sha256")
        if sha256:
            href += "#sha256=" + sha256
        attrs = _attr("href", href)
        if f.requires_python:
            attrs += _attr("data-requires-python", f.requires_python)
        if f.core_metadata is not None:
            value = _hash_attr(f.core_metadata)
            attrs += _attr("data-core-metadata", value) + _attr("data-dist-info-metadata", value)
        if f.yanked:
            attrs += _attr("data-yanked", f.yanked_reason)
        lines.append(f"<a{attrs}>{escape(f.filename)}</a><br>")
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")


def _hash_attr(hashes: dict[str, str]) -> str:
    if "sha256" in hashes:
        return "sha256=" + hashes["sha256"]
    for algorithm, value in hashes.items():
        return f"{algorithm}={value}"
    return "true"


def index_json(names: Iterable[str]) -> bytes:
    return b"".join(index_json_chunks(names))


def index_json_chunks(names: Iterable[str], batch: int = 10_000) -> Iterator[bytes]:
    """The JSON project list in pieces of ``batch`` names (a 700,000-name list is written
    to disk this way without being held whole in memory)."""
    yield ('{"meta":{"api-version":"' + API_VERSION + '"},"projects":[').encode()
    first = True
    for group in _batched(names, batch):
        body = ",".join(json.dumps({"name": name}, separators=(",", ":")) for name in group)
        yield (body if first else "," + body).encode("utf-8")
        first = False
    yield b"]}"


def index_html(names: Iterable[str], title: str) -> bytes:
    return b"".join(index_html_chunks(names, title))


def index_html_chunks(names: Iterable[str], title: str, batch: int = 10_000) -> Iterator[bytes]:
    """The HTML project list in pieces of ``batch`` names."""
    yield (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
    ).encode()
    for group in _batched(names, batch):
        yield "".join(f'<a href="{_normalized(name)}/">{escape(name)}</a><br>\n' for name in group).encode(
            "utf-8"
        )
    yield b"</body>\n</html>\n"


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    group: list[str] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _normalized(name: str) -> str:
    return escape(canonicalize_name(name), quote=True)
