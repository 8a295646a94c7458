"""Keeping the search index in step with idx-server: event hooks as changes commit, and a
catch-up at start for whatever changed while the plugin was not listening.

Private indexes contribute each project's name and its latest release's summary and
description; mirrors contribute only the names of the projects they have cached (never
the upstream's whole name list).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from idx_server import hookimpl
from idx_server.events import Event
from idx_server.model.indexes import Index
from idx_server.model.users import Release
from idx_server.services.indexes import IndexService
from idx_server.storage import MetaStore
from packaging.version import InvalidVersion, Version

from idx_web.search.query import exact_name, fts_expression
from idx_web.search.store import Entry, Hit, SearchStore

log = logging.getLogger("idx.web.search")

PLUGIN_NAME = "idx-web.search"


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: tuple[Hit, ...]
    total: int
    #: False while the catch-up after start is still running (results may be incomplete).
    complete: bool


class SearchIndexer:
    """A pluggy plugin object: registered on the server's plugin manager by idx-web."""

    def __init__(self, store: SearchStore, indexes: IndexService, meta: MetaStore) -> None:
        self.store = store
        self.indexes = indexes
        self.meta = meta
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set when the server stops: the catch-up ends between two projects.
        self._stopping = threading.Event()
        self._closed = False

    # -- events --------------------------------------------------------------------------
    @hookimpl
    def idx_release_uploaded(self, event: Event) -> None:
        self.refresh(event.index, event.project, uploaded=event.version)

    @hookimpl
    def idx_release_deleted(self, event: Event) -> None:
        self.refresh(event.index, event.project)

    @hookimpl
    def idx_release_yanked(self, event: Event) -> None:
        self.refresh(event.index, event.project)

    @hookimpl
    def idx_pushed(self, event: Event) -> None:
        self.refresh(event.index, event.project)

    @hookimpl
    def idx_file_cached(self, event: Event) -> None:
        # A mirror contributes only its projects' names, which a cached file does not
        # change: only a project not indexed yet needs work. (A cold install caches some
        # 40 files at once; re-indexing each project every time cost the server CPU then.)
        if self.store.version(event.index, event.project) is None:
            self.refresh(event.index, event.project)

    # -- indexing ------------------------------------------------------------------------
    def refresh(self, index_name: str, project: str, uploaded: str = "") -> None:
        """Index ``project`` of ``index_name`` as it is now (or drop it if it is gone).
        ``uploaded``: the version just uploaded; when it is newer than the indexed one it
        is the latest, and only it is read (not every release of a long-lived project)."""
        index = self.indexes.snapshot().find(index_name)
        if index is None:
            self.store.delete_index(index_name)
            return
        serials = self.meta.project_serials([index.id], project)
        if index.id not in serials:
            self.store.delete(index_name, project)
            return
        if uploaded and not index.is_mirror:
            indexed = self.store.version(index_name, project)
            if indexed and _newness(uploaded) > _newness(indexed):
                release = self.meta.get_release(index.id, project, uploaded)
                if release is not None:
                    self.store.put(self._release_entry(index, project, serials[index.id], release, ""))
                    return
        self.store.put(self._entry(index, project, serials[index.id], ""))

    def _entry(self, index: Index, project: str, serial: int, display_name: str) -> Entry:
        if index.is_mirror:
            if not display_name:
                page = self.meta.get_mirror_page(index.id, project)
                display_name = page.display_name if page and page.display_name else project
            return Entry(index.full_name, index.created, project, display_name, serial=serial)
        release = latest_release(self.meta.list_releases(index.id, project))
        return self._release_entry(index, project, serial, release, display_name)

    @staticmethod
    def _release_entry(
        index: Index, project: str, serial: int, release: Release | None, display_name: str
    ) -> Entry:
        metadata = release.metadata if release else {}
        return Entry(
            index.full_name,
            index.created,
            project,
            str(metadata.get("name") or display_name or project),
            release.version if release else "",
            str(metadata.get("summary") or ""),
            str(metadata.get("description") or ""),
            serial,
        )

    def catch_up(self) -> int:
        """Bring every index up to date; returns how many projects were (re)indexed."""
        changed = 0
        current = {ix.full_name: ix for ix in self.indexes.all_indexes()}
        for gone in self.store.index_names() - set(current):
            self.store.delete_index(gone)
        for index in current.values():
            if self._stopping.is_set():
                break
            changed += self._catch_up_index(index)
        return changed

    def _catch_up_index(self, index: Index) -> int:
        stamp_key = f"stamp:{index.full_name}"
        stamp = f"{index.created}:{self.meta.projects_stamp([index.id])}"
        if self.store.get_meta(stamp_key) == stamp:
            return 0
        indexed = self.store.indexed(index.full_name)
        names = self.meta.project_names(index.id)
        changed = 0
        for project, display in names:
            if self._stopping.is_set():
                return changed  # the stamp is not set: the next start goes on from here
            known = indexed.get(project)
            if index.is_mirror and known is not None and known.index_created == index.created:
                continue  # a mirror contributes only the name, which does not change
            serial = self.meta.project_serials([index.id], project).get(index.id, 0)
            if known is not None and known.serial == serial and known.index_created == index.created:
                continue
            self.store.put(self._entry(index, project, serial, display))
            changed += 1
        for project in set(indexed) - {name for name, _ in names}:
            self.store.delete(index.full_name, project)
        self.store.set_meta(stamp_key, stamp)
        return changed

    def sync_mirrors(self, mirrors: list[Index]) -> None:
        """Pick up projects mirrors cached since the last look (a mirror fetching a page
        sends no event); cheap when nothing changed: one query per mirror."""
        if not self.ready.is_set():
            return
        for mirror in mirrors:
            self._catch_up_index(mirror)

    def start_catch_up(self) -> None:
        """Catch up on a background thread, so a large server starts at once."""
        self._thread = threading.Thread(target=self._run_catch_up, name="idx-web-search", daemon=True)
        self._thread.start()

    def _run_catch_up(self) -> None:
        try:
            changed = self.catch_up()
            if changed:
                log.info("search index: caught up on %d projects", changed)
        except Exception:
            log.exception("search index: catch-up failed; searches may miss projects until a restart")
        finally:
            self.ready.set()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        return self.ready.wait(timeout)

    @hookimpl
    def idx_shutdown(self) -> None:
        # Before the server closes its store: the catch-up reads it on its own thread.
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        self.store.close()

    # -- searching -----------------------------------------------------------------------
    def search(self, text: str, readable: list[Index], limit: int, offset: int) -> SearchResults:
        match = fts_expression(text)
        if not match:
            return SearchResults(text, (), 0, self.ready.is_set())
        self.sync_mirrors([ix for ix in readable if ix.is_mirror])
        hits, total = self.store.search(
            match, [(ix.full_name, ix.created) for ix in readable], exact_name(text), limit, offset
        )
        return SearchResults(text, tuple(hits), total, self.ready.is_set())


def _newness(version: str) -> tuple[bool, Version] | tuple[()]:
    """How :func:`latest_release` ranks a version: finals first, then by version; an
    invalid version ranks below every valid one."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return ()
    return (not parsed.is_prerelease, parsed)


def latest_release(releases: list[Release]) -> Release | None:
    """The newest final release, or the newest of all if there is no final one."""
    best: tuple[bool, Version] | tuple[()] = ()
    chosen = None
    for release in releases:
        key = _newness(release.version)
        if key and key > best:
            best, chosen = key, release
    return chosen if chosen is not None else (releases[0] if releases else None)
