"""The simple API's pages, rendered once and served from memory until something changes.

A page's cache key is what it was built from: the configuration serial and, for each
consulted index, the serial of the project's last change there. Uploads, deletes,
yanks and mirror refreshes move those serials, so a stale page is never served and
the ETag is derived from the key without hashing the body.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from idx_server.housekeeping import release_memory
from idx_server.model.distfiles import DistFile
from idx_server.model.errors import NotFound
from idx_server.model.indexes import Index
from idx_server.render import simple as render
from idx_server.services.indexes import IndexService
from idx_server.services.resolve import MirrorSource, ProjectResolver, ResolvedProject, UpstreamNames
from idx_server.storage import MetaStore

log = logging.getLogger("idx.simple")

#: Pages larger than this are also kept gzip-compressed, for clients that accept it.
GZIP_THRESHOLD = 16 * 1024
#: Pages larger than this are compressed at level 1, the others at 6.
GZIP_FAST_ABOVE = 1024 * 1024
CACHE_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RenderedPage:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None = None
    stale: tuple[str, ...] = ()
    valid_until: float = float("inf")
    #: Very large pages (a mirror's full project list) live on disk instead of in ``body``.
    path: Path | None = None
    gzipped_path: Path | None = None


class PageCache:
    """A byte-bounded LRU of rendered pages."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[object, ...], tuple[tuple[object, ...], RenderedPage]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...], stamp: tuple[object, ...]) -> RenderedPage | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp or entry[1].valid_until <= time.time():
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: tuple[object, ...], stamp: tuple[object, ...], page: RenderedPage) -> None:
        size = _size(page)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= _size(old[1])
            self._entries[key] = (stamp, page)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _key, (_stamp, evicted) = self._entries.popitem(last=False)
                self._bytes -= _size(evicted)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size(self) -> int:
        return self._bytes


def _size(page: RenderedPage) -> int:
    return len(page.body) + len(page.gzipped or b"")


def _finish(body: bytes, media_type: str, stamp: tuple[object, ...], **extra: object) -> RenderedPage:
    etag = hashlib.blake2b(repr((stamp, media_type)).encode(), digest_size=12).hexdigest()
    gzipped = None
    if len(body) > GZIP_THRESHOLD:
        # Level 1 for big pages (nginx's default): a 3.9 MB page of 9,000 files compresses
        # in 16 ms instead of 38, to 770 KB instead of 667; it is done again after every
        # change of the project.
        level = 1 if len(body) > GZIP_FAST_ABOVE else 6
        gzipped = gzip.compress(body, compresslevel=level, mtime=0)
    return RenderedPage(body, media_type, '"' + etag + '"', gzipped, **extra)  # type: ignore[arg-type]


class ListFiles:
    """Project lists that include a mirror's upstream list (PyPI: 700,000 names) are
    rendered to files once and served from disk; only the newest few are kept."""

    KEEP = 8

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def render(
        self,
        key: tuple[object, ...],
        stamp: tuple[object, ...],
        media_type: str,
        names: Callable[[], Iterator[str]],
        title: str,
    ) -> RenderedPage:
        digest = hashlib.blake2b(repr((key, stamp)).encode(), digest_size=12).hexdigest()
        path = self.directory / f"{digest}.{'json' if media_type == render.JSON_TYPE else 'html'}"
        gz_path = path.with_name(path.name + ".gz")
        with self._lock:
            if path.exists():
                return RenderedPage(b"", media_type, f'"{digest}"', path=path, gzipped_path=gz_path)
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._write(path, gz_path, _chunks(media_type, names(), title))
                self._prune()
            except OSError as exc:
                # A full or read-only disk: serve this one from memory.
                log.warning("project list not cached on disk (%s); served from memory", exc.strerror)
                body = b"".join(_chunks(media_type, names(), title))
                return _finish(body, media_type, stamp)
            finally:
                # Rendering 700,000 names leaves tens of MB freed but held by malloc.
                release_memory()
        return RenderedPage(b"", media_type, f'"{digest}"', path=path, gzipped_path=gz_path)

    @staticmethod
    def _write(path: Path, gz_path: Path, chunks: Iterator[bytes]) -> None:
        """The list and its gzip form, written piece by piece and renamed into place."""
        tmp, gz_tmp = path.with_name(path.name + ".tmp"), gz_path.with_name(gz_path.name + ".tmp")
        try:
            with tmp.open("wb") as plain, gzip.GzipFile(gz_tmp, "wb", compresslevel=6, mtime=0) as packed:
                for chunk in chunks:
                    plain.write(chunk)
                    packed.write(chunk)
            os.replace(gz_tmp, gz_path)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            gz_tmp.unlink(missing_ok=True)
            raise

    def _prune(self) -> None:
        files = sorted(
            (p for p in self.directory.iterdir() if not p.name.endswith((".gz", ".tmp"))),
            key=lambda p: p.stat().st_mtime,
        )
        for old in files[: max(0, len(files) - self.KEEP)]:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".gz").unlink(missing_ok=True)


def _chunks(media_type: str, names: Iterable[str], title: str) -> Iterator[bytes]:
    if media_type == render.JSON_TYPE:
        return render.index_json_chunks(names)
    return render.index_html_chunks(names, title)


class SimpleService:
    def __init__(
        self,
        store: MetaStore,
        indexes: IndexService,
        resolver: ProjectResolver,
        mirror: MirrorSource,
        cache_dir: Path,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.resolver = resolver
        self.mirror = mirror
        self.cache = PageCache()
        self.lists = ListFiles(cache_dir / "lists")

    # -- project pages -------------------------------------------------------------------
    def project_page(self, index: Index, project: str, media_type: str, base: str) -> RenderedPage:
        prepared = self.resolver.prepare(index, project)
        if not prepared.exists:
            raise NotFound(f"project {project!r} is not on index {index.full_name} or its bases")
        stamp = (self.indexes.snapshot().serial, prepared.serials, prepared.stale)
        key = ("project", index.id, project, media_type, base)
        cached = self.cache.get(key, stamp)
        if cached is not None:
            return cached
        resolved = self.resolver.merge(prepared)
        page = self._page_data(resolved)
        body = (
            render.project_json(page, base)
            if media_type == render.JSON_TYPE
            else render.project_html(page, base)
        )
        rendered = _finish(body, media_type, stamp, stale=resolved.stale, valid_until=resolved.valid_until)
        self.cache.put(key, stamp, rendered)
        return rendered

    def _page_data(self, resolved: ResolvedProject) -> render.ProjectPage:
        origins = {ix_id: (ix.full_name, ix.is_mirror) for ix_id, ix in resolved.origins.items()}
        files = tuple(_page_file(f, *origins[f.index_id]) for f in resolved.files)
        known = {f.version for f in resolved.files if f.version}
        # PEP 700's list names every version upstream has, also those without files, but
        # none whose files are all kept back here (cool-down, offline) and, when a plugin
        # took files away (a constrained index), only the versions of the files left.
        if not resolved.filtered:
            hidden = resolved.hidden_versions - known
            for ix in resolved.origins.values():
                if ix.is_mirror:
                    known.update(v for v in self._mirror_versions(ix, resolved.project) if v not in hidden)
        versions = sorted(known, key=_version_key)  # once: 3,000 versions take 10 ms
        name = self._display_name(resolved)
        status, reason = self._status(resolved)
        return render.ProjectPage(name, tuple(versions), files, status, reason)

    def _mirror_versions(self, index: Index, project: str) -> tuple[str, ...]:
        page = self.store.get_mirror_page(index.id, project)
        return page.versions if page else ()

    def _display_name(self, resolved: ResolvedProject) -> str:
        # PEP 691: the name is the normalized one.
        return resolved.project

    def _status(self, resolved: ResolvedProject) -> tuple[str, str]:
        for ix in resolved.origins.values():
            if ix.is_mirror:
                page = self.store.get_mirror_page(ix.id, resolved.project)
                if page and page.project_status:
                    return page.project_status.get("status", "active"), page.project_status.get("reason", "")
            else:
                return "active", ""
        return "active", ""

    def refresh(self, index: Index, project: str) -> list[str]:
        """Revalidate ``project`` now on every mirror of ``index``'s resolution order."""
        refreshed = []
        for ix in self.resolver.resolution(index, project).consulted:
            if ix.is_mirror and not self.mirror.is_offline(ix):
                self.mirror.refresh_project(ix, project, force=True)
                refreshed.append(ix.full_name)
        return refreshed

    # -- project lists -------------------------------------------------------------------
    def project_list(self, index: Index, media_type: str) -> RenderedPage:
        """The index's project list: its own and its bases' projects, plus the upstream
        list of each mirror in the order (once known; never waited for)."""
        order = self.indexes.resolution_order(index)
        upstream = [(ix, self.mirror.upstream_names(ix)) for ix in order if ix.is_mirror]
        stamp = (
            self.indexes.snapshot().serial,
            self.store.projects_stamp([ix.id for ix in order]),
            tuple((ix.id, names.stamp if names else None) for ix, names in upstream),
        )
        key = ("list", index.id, media_type)
        cached = self.cache.get(key, stamp)
        if cached is not None:
            return cached
        by_mirror = {ix.id: n for ix, n in upstream}
        title = f"Simple index of {index.full_name}"

        def names() -> Iterator[str]:
            return self.resolver.filter_names(index, self._merged_names(order, by_mirror))

        if any(n is not None for n in by_mirror.values()):
            rendered = self.lists.render(key, stamp, media_type, names, title)
        else:
            body = b"".join(_chunks(media_type, names(), title))
            rendered = _finish(body, media_type, stamp)
        self.cache.put(key, stamp, rendered)
        return rendered

    def _merged_names(self, order: list[Index], upstream: dict[int, UpstreamNames | None]) -> Iterator[str]:
        """Display names, sorted by normalized name, each project once."""
        local: dict[str, str] = {}
        streams: list[Iterator[tuple[str, str]]] = []
        for ix in order:
            names = upstream.get(ix.id)
            if names is not None:
                streams.append(names.sorted_names())
                continue
            for normalized, display in self.store.project_names(ix.id):
                local.setdefault(normalized, display)
        streams.append(iter(sorted(local.items())))
        previous = None
        for normalized, display in heapq.merge(*streams):
            if normalized != previous:
                previous = normalized
                yield display


def _version_key(version: str) -> tuple[int, object]:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _page_file(f: DistFile, origin: str, from_mirror: bool) -> render.PageFile:
    if f.core_metadata_sha256:
        core: dict[str, str] | None = {"sha256": f.core_metadata_sha256}
    elif from_mirror and f.upstream_core_metadata is not None:
        core = f.upstream_core_metadata  # only read by the renderer
    else:
        core = None
    return render.PageFile(
        filename=f.filename,
        path=f.relpath,
        hashes=f.public_hashes,
        size=f.size,
        upload_time=f.upload_time,
        requires_python=f.requires_python,
        core_metadata=core,
        yanked=f.yanked,
        yanked_reason=f.yanked_reason,
        origin=origin,
    )
