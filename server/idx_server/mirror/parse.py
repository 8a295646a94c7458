"""Reading upstream simple pages: PEP 691 JSON and PEP 503 HTML (with a real HTML parser),
links resolved against the page URL, upstream's facts kept as they are."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name

from idx_server.model.errors import UpstreamError

JSON_TYPES = (
    "application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.latest+json",
    "application/json",
)


@dataclass(frozen=True)
class UpstreamLink:
    """One file as upstream describes it."""

    filename: str
    url: str
    hashes: dict[str, str] = field(default_factory=dict)
    requires_python: str = ""
    yanked: bool = False
    yanked_reason: str = ""
    #: PEP 658: None if not advertised; {} if advertised without a hash.
    core_metadata: dict[str, str] | None = None
    size: int | None = None
    upload_time: str = ""


@dataclass(frozen=True)
class UpstreamPage:
    name: str
    links: tuple[UpstreamLink, ...]
    versions: tuple[str, ...] | None = None
    project_status: dict[str, str] | None = None
    last_serial: int = 0


def is_json(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        return True
    if "html" in media:
        return False
    return body.lstrip()[:1] == b"{"


def parse_project_page(body: bytes, content_type: str, page_url: str, project: str) -> UpstreamPage:
    """Parse an upstream project page of either format."""
    try:
        if is_json(content_type, body):
            return _parse_json(body, page_url, project)
        return _parse_html(body, page_url, project)
    except UpstreamError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UpstreamError(f"upstream page for {project} could not be read: {exc}") from None


def _filename_from_url(url: str) -> str:
    return unquote(posixpath.basename(urlsplit(url).path))


def _parse_json(body: bytes, page_url: str, project: str) -> UpstreamPage:
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise UpstreamError(f"upstream JSON page for {project} has no 'files' list")
    meta = data.get("meta") or {}
    major = str(meta.get("api-version", "1.0")).split(".", 1)[0]
    if major != "1":
        raise UpstreamError(f"upstream speaks simple API version {meta.get('api-version')}, idx knows 1.x")
    links = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or "url" not in entry:
            continue
        url = urljoin(page_url, str(entry["url"]))
        filename = str(entry.get("filename") or _filename_from_url(url))
        yanked = entry.get("yanked", False)
        core = entry.get("core-metadata", entry.get("dist-info-metadata"))
        size = entry.get("size")
        links.append(
            UpstreamLink(
                filename=filename,
                url=url.split("#", 1)[0],
                hashes={str(k): str(v) for k, v in (entry.get("hashes") or {}).items()},
                requires_python=str(entry.get("requires-python") or ""),
                yanked=bool(yanked),
                yanked_reason=yanked if isinstance(yanked, str) else "",
                core_metadata=_core_metadata(core),
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                upload_time=str(entry.get("upload-time") or ""),
            )
        )
    versions = data.get("versions")
    status = data.get("project-status")
    return UpstreamPage(
        name=str(data.get("name") or project),
        links=tuple(links),
        versions=tuple(str(v) for v in versions) if isinstance(versions, list) else None,
        project_status={str(k): str(v) for k, v in status.items()} if isinstance(status, dict) else None,
        last_serial=int(meta.get("_last-serial") or 0) if str(meta.get("_last-serial", "0")).isdigit() else 0,
    )


def _core_metadata(value: Any) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        return _hash_attr(value)
    return None


def _hash_attr(value: str) -> dict[str, str] | None:
    """``data-core-metadata`` values: "true", or "sha256=<hex>"."""
    value = value.strip()
    if value.lower() == "true" or value == "":
        return {}
    name, sep, digest = value.partition("=")
    if sep and name and digest:
        return {name.lower(): digest}
    return None


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.base: str | None = None
        self.meta: dict[str, str] = {}
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self._current = []
            self.anchors.append((values, self._current))
        elif tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "meta" and values.get("name"):
            self.meta[str(values["name"])] = values.get("content") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def _parse_html(body: bytes, page_url: str, project: str) -> UpstreamPage:
    collector = _LinkCollector()
    collector.feed(body.decode("utf-8", errors="replace"))
    collector.close()
    base = urljoin(page_url, collector.base) if collector.base else page_url
    links = []
    for attrs, text in collector.anchors:
        href = str(attrs["href"])
        url = urljoin(base, href)
        url_part, _, fragment = url.partition("#")
        hashes = {}
        name, sep, digest = fragment.partition("=")
        if sep and name and digest:
            hashes[name.lower()] = digest
        filename = _filename_from_url(url_part) or "".join(text).strip()
        yanked = "data-yanked" in attrs
        core = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        links.append(
            UpstreamLink(
                filename=filename,
                url=url_part,
                hashes=hashes,
                requires_python=attrs.get("data-requires-python") or "",
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or "") if yanked else "",
                core_metadata=_hash_attr(core) if core is not None else None,
            )
        )
    status = collector.meta.get("pypi:project-status")
    project_status = None
    if status:
        project_status = {"status": status}
        if collector.meta.get("pypi:project-status-reason"):
            project_status["reason"] = collector.meta["pypi:project-status-reason"]
    return UpstreamPage(name=project, links=tuple(links), project_status=project_status)


class _NameCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: list[str] = []
        self._in_anchor = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._in_anchor = True
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_anchor:
            self._in_anchor = False
            name = "".join(self._text).strip()
            if name:
                self.names.append(name)

    def handle_data(self, data: str) -> None:
        if self._in_anchor:
            self._text.append(data)


def parse_project_list(chunks: Iterator[bytes], content_type: str) -> list[tuple[str, str]]:
    """(normalized, display) names from an upstream project list, sorted and unique.

    HTML is parsed as it streams in, so a 30 MB list is never held whole.
    """
    if is_json(content_type, b""):
        data = json.loads(b"".join(chunks))
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, list):
            raise UpstreamError("upstream project list has no 'projects' list")
        names = [str(p["name"]) for p in projects if isinstance(p, dict) and p.get("name")]
    else:
        collector = _NameCollector()
        decoder = _utf8_decoder()
        for chunk in chunks:
            collector.feed(decoder.decode(chunk))
        collector.feed(decoder.decode(b"", final=True))
        collector.close()
        names = collector.names
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(canonicalize_name(name), name)
    return sorted(unique.items())


def _utf8_decoder() -> Any:
    import codecs

    return codecs.getincrementaldecoder("utf-8")(errors="replace")
