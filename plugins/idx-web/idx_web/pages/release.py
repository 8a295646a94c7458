"""The release page: metadata, the rendered description, files, and test results."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import NotFound
from idx_server.model.users import Release
from idx_server.services.releases import normalize_version, toxresult_relpath
from idx_server.services.resolve import ResolvedProject
from idx_server.storage import MetaStore, ToxResult
from markupsafe import Markup

from idx_web.pages.readme import render_description

#: Test output beyond this many characters per command is cut (the raw JSON has it all).
MAX_OUTPUT = 64 * 1024
MAX_RESULT_BYTES = 10 * 1024 * 1024

#: Metadata fields shown in the sidebar, with their labels.
FIELDS = (
    ("author", "Author"),
    ("author_email", "Author email"),
    ("maintainer", "Maintainer"),
    ("maintainer_email", "Maintainer email"),
    ("license_expression", "License"),
    ("license", "License"),
    ("requires_python", "Requires Python"),
    ("home_page", "Home page"),
    ("download_url", "Download URL"),
    ("keywords", "Keywords"),
)

OpenBlob = Callable[[str], IO[bytes]]


@dataclass(frozen=True)
class FileRow:
    filename: str
    href: str
    size: int | None
    sha256: str
    #: Other hashes (mirror files whose upstream gave no sha256).
    hashes: tuple[tuple[str, str], ...]
    upload_time: str
    uploader: str
    requires_python: str
    yanked: bool
    yanked_reason: str
    cached: bool


@dataclass(frozen=True)
class Command:
    command: str
    retcode: int | None
    output: str
    truncated: bool


@dataclass(frozen=True)
class EnvReport:
    name: str
    #: "passed", "failed", "setup failed" or "no tests".
    status: str
    python: str
    setup: tuple[Command, ...]
    test: tuple[Command, ...]


@dataclass(frozen=True)
class ToxReport:
    filename: str
    href: str
    uploader: str
    created: str
    host: str
    platform: str
    envs: tuple[EnvReport, ...]
    #: Why the result could not be read, or "".
    error: str = ""


@dataclass(frozen=True)
class ReleasePage:
    index: str
    origin: str
    origin_is_mirror: bool
    project: str
    display_name: str
    version: str
    summary: str
    description: Markup
    fields: tuple[tuple[str, str], ...]
    classifiers: tuple[str, ...]
    requires_dist: tuple[str, ...]
    project_urls: tuple[tuple[str, str], ...]
    files: tuple[FileRow, ...]
    yanked: bool
    yanked_reason: str
    results: tuple[ToxReport, ...]
    #: Other indexes of the resolution order with this version, hidden by ``origin``'s.
    shadowed: tuple[str, ...]


def release_page(
    resolved: ResolvedProject,
    version: str,
    store: MetaStore,
    open_blob: OpenBlob,
    url_for: Callable[[str, str], str],
) -> ReleasePage:
    """``url_for(index full name, relpath)`` makes file links."""
    wanted = normalize_version(version)
    files = [f for f in resolved.files if f.version == wanted]
    order = list(resolved.origins)
    release: Release | None
    if not files:
        release, origin_id = _registered_release(resolved, store, wanted)
    else:
        origin_id = min((f.index_id for f in files), key=order.index)
        release = (
            None
            if resolved.origins[origin_id].is_mirror
            else store.get_release(origin_id, resolved.project, wanted)
        )
    origin = resolved.origins[origin_id]
    own = sorted((f for f in files if f.index_id == origin_id), key=lambda f: f.filename)
    shadowed = tuple(
        resolved.origins[index_id].full_name
        for index_id in order
        if index_id != origin_id and any(f.index_id == index_id for f in files)
    )
    metadata: dict[str, Any] = dict(release.metadata) if release else {}
    results = store.toxresults_for(f.id for f in own)
    yanked = bool(own) and all(f.yanked for f in own)
    return ReleasePage(
        index=resolved.index.full_name,
        origin=origin.full_name,
        origin_is_mirror=origin.is_mirror,
        project=resolved.project,
        display_name=str(metadata.get("name") or resolved.project),
        version=wanted,
        summary=str(metadata.get("summary") or ""),
        description=render_description(
            str(metadata.get("description") or ""), str(metadata.get("description_content_type") or "")
        ),
        fields=_fields(metadata),
        classifiers=tuple(str(c) for c in metadata.get("classifiers") or ()),
        requires_dist=tuple(str(r) for r in metadata.get("requires_dist") or ()),
        project_urls=tuple(_project_urls(metadata.get("project_urls") or ())),
        files=tuple(_file_row(f, url_for(origin.full_name, f.relpath)) for f in own),
        yanked=yanked,
        yanked_reason=next((f.yanked_reason for f in own if f.yanked_reason), "") if yanked else "",
        results=tuple(
            tox_report(result, file, url_for(origin.full_name, toxresult_relpath(file, result)), open_blob)
            for file in own
            for result in results
            if result.file_id == file.id
        ),
        shadowed=shadowed,
    )


def _registered_release(resolved: ResolvedProject, store: MetaStore, version: str) -> tuple[Release, int]:
    for index_id, index in resolved.origins.items():
        if not index.is_mirror:
            release = store.get_release(index_id, resolved.project, version)
            if release is not None:
                return release, index_id
    raise NotFound(f"version {version} of {resolved.project!r} is not on index {resolved.index.full_name}")


def _fields(metadata: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    shown: list[tuple[str, str]] = []
    labels: set[str] = set()
    for key, label in FIELDS:
        value = metadata.get(key)
        if value and label not in labels:
            labels.add(label)
            shown.append((label, str(value)))
    return tuple(shown)


def _project_urls(entries: Any) -> list[tuple[str, str]]:
    urls = []
    for entry in entries:
        label, _, url = str(entry).partition(",")
        url = url.strip()
        if url.startswith(("https://", "http://")):
            urls.append((label.strip() or url, url))
    return urls


def _file_row(f: DistFile, href: str) -> FileRow:
    return FileRow(
        filename=f.filename,
        href=href,
        size=f.size,
        sha256=f.sha256,
        hashes=tuple(sorted(f.public_hashes.items())) if not f.sha256 else (),
        upload_time=f.upload_time,
        uploader=f.uploader,
        requires_python=f.requires_python,
        yanked=f.yanked,
        yanked_reason=f.yanked_reason,
        cached=f.cached,
    )


def tox_report(result: ToxResult, file: DistFile, href: str, open_blob: OpenBlob) -> ToxReport:
    """A stored tox ``--result-json`` as envs with their commands and output."""
    try:
        with open_blob(result.sha256) as handle:
            data = json.loads(handle.read(MAX_RESULT_BYTES))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return ToxReport(file.filename, href, result.uploader, result.created, "", "", (), str(exc))
    if not isinstance(data, dict):
        return ToxReport(
            file.filename, href, result.uploader, result.created, "", "", (), "not a JSON object"
        )
    envs = data.get("testenvs")
    return ToxReport(
        filename=file.filename,
        href=href,
        uploader=result.uploader,
        created=result.created,
        host=str(data.get("host") or ""),
        platform=str(data.get("platform") or ""),
        envs=tuple(_env(name, env) for name, env in sorted(envs.items()) if isinstance(env, dict))
        if isinstance(envs, dict)
        else (),
    )


def _env(name: str, env: dict[str, Any]) -> EnvReport:
    setup = _commands(env.get("setup"))
    test = _commands(env.get("test"))
    if any(c.retcode for c in setup):
        status = "setup failed"
    elif not test:
        status = "no tests"
    elif any(c.retcode for c in test):
        status = "failed"
    else:
        status = "passed"
    python = env.get("python")
    version = str(python.get("version") or "") if isinstance(python, dict) else ""
    return EnvReport(str(name), status, version.split(" ", 1)[0], setup, test)


def _commands(entries: Any) -> tuple[Command, ...]:
    commands = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        command = entry.get("command")
        text = " ".join(str(part) for part in command) if isinstance(command, list) else str(command or "")
        output = str(entry.get("output") or "")
        retcode = entry.get("retcode")
        commands.append(
            Command(
                text,
                retcode if isinstance(retcode, int) else None,
                output[:MAX_OUTPUT],
                len(output) > MAX_OUTPUT,
            )
        )
    return tuple(commands)
