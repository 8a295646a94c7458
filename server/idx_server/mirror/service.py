"""Mirror indexes: project pages cached with their validators and revalidated once per
expiry, files fetched on first request, the upstream project list in the background,
and serving from cache when upstream fails."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from idx_server import __version__
from idx_server.events import Event, EventDispatcher
from idx_server.housekeeping import allowed_cpus
from idx_server.mirror.downloads import DownloadCoordinator, SharedDownload, finish_in_background
from idx_server.mirror.parse import UpstreamLink, UpstreamPage, parse_project_page
from idx_server.mirror.upstream import (
    ACCEPT_PAGES,
    UpstreamClient,
    final_url,
    redact_url,
    split_credentials,
)
from idx_server.model.distfiles import DistFile, check_safe_filename
from idx_server.model.errors import (
    IdxError,
    InsufficientStorage,
    InvalidUpload,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from idx_server.model.indexes import Index
from idx_server.services.archives import read_metadata
from idx_server.services.clock import now_iso
from idx_server.services.files import FileStream
from idx_server.services.resolve import FRESH, MISSING, REFRESHED, STALE
from idx_server.settings import Settings
from idx_server.storage import BlobStore, MetaStore, MirrorNames, MirrorPage

log = logging.getLogger("idx.mirror")

#: Longest a fetch of an upstream's whole project list may take (PyPI's is ~30 MB).
NAMES_TIMEOUT = 600.0
#: Room kept free on the disk: a mirror download that would eat into it is refused.
DISK_RESERVE = 1024 * 1024
#: After upstream failed, serve the cache without asking again for this long.
FAILURE_BACKOFF = 30.0
#: Revalidations in the background at once, per mirror (each may wait out the timeouts).
REVALIDATIONS = 4


@dataclass(frozen=True)
class _Upstream:
    """Where a mirror index fetches from, with credentials split out of the URL."""

    url: str
    auth: str | None
    host: str


class _Flight(threading.Event):
    """Set when the work on a key is done; knows when it began."""

    def __init__(self) -> None:
        super().__init__()
        self.began = time.monotonic()
        #: What the work came to, for those who waited (None: see for yourself).
        self.outcome: str | None = None


class _Flights:
    """Coalesces concurrent work on one key: the first caller works, the others wait."""

    def __init__(self) -> None:
        self._events: dict[object, _Flight] = {}
        self._lock = threading.Lock()

    def begin(self, key: object) -> _Flight | None:
        """None if the caller leads (must call ``end``); else the flight to wait on."""
        flight, leads = self.join(key)
        return None if leads else flight

    def join(self, key: object, start: bool = True) -> tuple[_Flight | None, bool]:
        """(the flight on ``key``, whether the caller leads it and must call ``end``); a
        new one only with ``start``, else (None, False) when none runs."""
        with self._lock:
            flight = self._events.get(key)
            if flight is not None:
                return flight, False
            if not start:
                return None, False
            flight = self._events[key] = _Flight()
            return flight, True

    def end(self, key: object, outcome: str | None = None) -> None:
        with self._lock:
            event = self._events.pop(key, None)
        if event is not None:
            event.outcome = outcome
            event.set()


class StoredNames:
    """An upstream project list as stored (compressed, sorted by normalized name). Only
    its stamp is kept: the names are read from the store when a listing is rendered,
    which happens once per change of the stamp."""

    def __init__(self, info: MirrorNames, load: Callable[[], MirrorNames | None]) -> None:
        self._count = info.count
        self._load = load
        self.stamp = self.stamp_of(info)

    @staticmethod
    def stamp_of(info: MirrorNames) -> str:
        return f"{info.checked_at}:{info.count}:{info.etag}"

    def sorted_names(self) -> Iterator[tuple[str, str]]:
        names = self._load()
        if names is None:
            return
        for line in names.lines():
            normalized, _, display = line.partition("\t")
            yield normalized, display or normalized

    def __len__(self) -> int:
        return self._count


class MirrorService:
    def __init__(
        self, store: MetaStore, blobs: BlobStore, settings: Settings, events: EventDispatcher
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.settings = settings
        self.events = events
        self.client = UpstreamClient(
            settings.upstream_connect_timeout,
            settings.upstream_read_timeout,
            settings.upstream_retries,
            f"idx-server/{__version__}",
            pool_size=max(16, settings.threads),
        )
        self.downloads = DownloadCoordinator()
        self._flights = _Flights()
        #: (checked_at, status) of pages known to be fresh, so a warm request skips the database.
        self._fresh: dict[tuple[int, str], tuple[float, int]] = {}
        #: Recent upstream failures per (mirror, project): until when, and what happened.
        self._failures: dict[tuple[int, str], tuple[float, IdxError]] = {}
        self._names_cache: dict[int, StoredNames] = {}
        #: Mirrors whose upstream recently did not answer within upstream_stale_timeout:
        #: until when their stale pages are served without waiting for it.
        self._slow: dict[int, float] = {}
        #: Revalidations running in the background, per mirror.
        self._revalidating: dict[int, int] = {}
        self._closed = False
        self._background: set[threading.Thread] = set()
        self._background_lock = threading.Lock()
        self._names_lock = threading.Lock()
        #: Fetched core metadata not stored yet: file id -> sha256, sha256 -> bytes.
        self._metadata_files: dict[int, str] = {}
        self._metadata_blobs: dict[str, bytes] = {}
        self._metadata_lock = threading.Lock()

    def close(self, timeout: float = 30.0) -> None:
        """Let running downloads and list fetches finish (they write to the store), then
        drop the upstream connections."""
        self._closed = True
        deadline = time.monotonic() + timeout
        self.downloads.wait_idle(timeout)
        self.downloads.wait_stored(max(0.0, deadline - time.monotonic()))
        with self._background_lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.client.close()

    # -- configuration ---------------------------------------------------------------------
    def _upstream_wait(self) -> float:
        """How long a request waits for another's upstream request (a connection and an
        answer, plus a margin) before it looks for itself."""
        return self.settings.upstream_connect_timeout + self.settings.upstream_read_timeout + 5

    def is_offline(self, index: Index) -> bool:
        return self.settings.offline or bool(index.config.get("mirror_offline"))

    def _upstream(self, index: Index) -> _Upstream:
        url, auth = split_credentials(str(index.config.get("mirror_url") or ""))
        from urllib.parse import urlsplit

        return _Upstream(url, auth, urlsplit(url).netloc)

    def _auth_for(self, index: Index, url: str) -> str | None:
        """Credentials go only to the mirror URL's own host (as pip does per netloc)."""
        from urllib.parse import urlsplit

        upstream = self._upstream(index)
        return upstream.auth if urlsplit(url).netloc == upstream.host else None

    # -- project pages ---------------------------------------------------------------------
    def refresh_project(self, index: Index, project: str, force: bool = False) -> str:
        key = (index.id, project)
        expiry = float(index.config.get("mirror_cache_expiry") or 0)
        now = time.time()
        known = self._fresh.get(key)
        if known is not None and not force and now - known[0] < expiry and not self.is_offline(index):
            return FRESH if known[1] == 200 else MISSING
        page = self.store.get_mirror_page(index.id, project)
        if self.is_offline(index):
            return FRESH if page is not None and page.status == 200 else MISSING
        if page is not None and not force and now - page.checked_at < expiry:
            self._remember(page)
            return FRESH if page.status == 200 else MISSING
        failure = self._recent_failure(key)
        if not force and failure is not None:
            return self._stale_or_raise(page, failure)
        return self._revalidate(index, project, page, self._patience(index, page, force))

    def _revalidate(self, index: Index, project: str, page: MirrorPage | None, patience: float | None) -> str:
        """Ask upstream, once however many requests want the page now. Without a copy at
        hand (``patience`` None), in this thread. With one, on a thread of its own with the
        full timeouts and retries, waiting at most ``patience`` seconds for it; after that
        the copy is served, and the mirror counts as slow for a while."""
        key = (index.id, project)
        if patience is None:
            flight, leads = self._flights.join(key)
            if flight is not None and not leads:
                flight.wait(self._upstream_wait())
                return flight.outcome or self._state_after_wait(index, project)
            state: str | None = None
            try:
                state = self._fetch_project(index, project, page)
                return state
            finally:
                self._flights.end(key, state)
        flight = self._revalidate_in_background(index, project, page, slow=patience == 0)
        if flight is None or patience == 0:
            return self._copy_state(page)
        if flight.wait(max(0.0, flight.began + patience - time.monotonic())):
            return flight.outcome or self._state_after_wait(index, project)
        if self._slow.get(index.id, 0.0) <= time.monotonic():
            log.warning(
                "mirror %s: upstream did not answer for %s within %s s; serving cached pages "
                "while they are revalidated in the background",
                index.full_name,
                project,
                patience,
            )
        self._slow[index.id] = time.monotonic() + FAILURE_BACKOFF
        return self._copy_state(page)

    def _patience(self, index: Index, page: MirrorPage | None, force: bool) -> float | None:
        """How long a refresh waits for upstream before the cached copy is served: None
        (as long as the timeouts allow) without a copy, on a forced refresh, or when
        upstream_stale_timeout is 0; 0 while upstream is known to be slow."""
        limit = self.settings.upstream_stale_timeout
        if page is None or force or not limit:
            return None
        if self._slow.get(index.id, 0.0) > time.monotonic():
            return 0.0
        return float(limit)

    @staticmethod
    def _copy_state(page: MirrorPage | None) -> str:
        return STALE if page is not None and page.status == 200 else MISSING

    def _revalidate_in_background(
        self, index: Index, project: str, page: MirrorPage | None, slow: bool
    ) -> _Flight | None:
        """The flight revalidating the page: the running one, or a new one on a thread of
        its own with the full timeouts and retries (while the mirror is ``slow``, only if
        fewer than REVALIDATIONS of its pages are being revalidated; None otherwise)."""
        key = (index.id, project)
        with self._background_lock:
            room = not slow or self._revalidating.get(index.id, 0) < REVALIDATIONS
            flight, leads = self._flights.join(key, start=room)
            if not leads:
                return flight
            self._revalidating[index.id] = self._revalidating.get(index.id, 0) + 1

        def revalidate() -> None:
            state: str | None = None
            try:
                state = self._fetch_project(index, project, page)
            except Exception:  # _fetch_project logs and records upstream errors itself
                if not self._closed:  # (a stop does not wait for a hung upstream)
                    log.exception("mirror %s: revalidating %s failed", index.full_name, project)
            finally:
                self._revalidated(key, state)

        # Not joined on close: it may be waiting out the timeouts of a hung upstream, and
        # what it would store is only a fresher copy of a page that is cached.
        try:
            threading.Thread(target=revalidate, name=f"idx-revalidate-{project}", daemon=True).start()
        except RuntimeError:  # no thread to be had: the copy is served, and asked again later
            self._revalidated(key, None)
            return None
        return flight

    def _revalidated(self, key: tuple[int, str], state: str | None) -> None:
        self._flights.end(key, state)
        with self._background_lock:
            self._revalidating[key[0]] -= 1

    def _remember(self, page: MirrorPage) -> None:
        if len(self._fresh) > 200_000:
            self._fresh.clear()
        self._fresh[(page.index_id, page.project)] = (page.checked_at, page.status)

    def _recent_failure(self, key: tuple[int, str]) -> IdxError | None:
        until, error = self._failures.get(key, (0.0, None))
        return error if until > time.time() else None

    def _state_after_wait(self, index: Index, project: str) -> str:
        page = self.store.get_mirror_page(index.id, project)
        failure = self._recent_failure((index.id, project))
        if page is None:
            if failure is not None:
                raise failure
            return MISSING
        if failure is not None:
            return STALE if page.status == 200 else MISSING
        return REFRESHED if page.status == 200 else MISSING

    def _stale_or_raise(self, page: MirrorPage | None, error: IdxError) -> str:
        if page is not None and page.status == 200:
            return STALE
        if page is not None and page.status == 404:
            return MISSING
        raise error

    def _fetch_project(self, index: Index, project: str, page: MirrorPage | None) -> str:
        upstream = self._upstream(index)
        url = f"{upstream.url}{project}/"
        headers = {"Accept": ACCEPT_PAGES}
        if page is not None and page.etag:
            headers["If-None-Match"] = page.etag
        elif page is not None and page.last_modified:
            headers["If-Modified-Since"] = page.last_modified
        try:
            response = self.client.get(url, headers=headers, auth=upstream.auth)
            self._slow.pop(index.id, None)  # it answers
            if response.status == 304 and page is not None:
                self._touch_page(page)
                return FRESH if page.status == 200 else MISSING
            if response.status == 404:
                self._store_missing(index, project, response)
                return MISSING
            if response.status != 200:
                raise UpstreamError(f"upstream {redact_url(url)} answered {response.status}")
            parsed = parse_project_page(
                response.data, response.headers.get("Content-Type", ""), final_url(url, response), project
            )
        except IdxError as exc:
            log.warning("mirror %s: %s", index.full_name, exc.message)
            backoff = min(FAILURE_BACKOFF, float(index.config.get("mirror_cache_expiry") or FAILURE_BACKOFF))
            self._failures[(index.id, project)] = (time.time() + backoff, exc)
            return self._stale_or_raise(page, exc)
        self._failures.pop((index.id, project), None)
        self._store_page(index, project, parsed, response.headers)
        return REFRESHED

    def _touch_page(self, page: MirrorPage) -> None:
        touched = replace(page, checked_at=time.time())
        with self.store.write(durable=False):
            self.store.put_mirror_page(touched, None)
        self._failures.pop((page.index_id, page.project), None)
        self._remember(touched)

    def _store_missing(self, index: Index, project: str, response: object) -> None:
        with self.store.write(durable=False) as tx:
            existed = self.store.indexes_with_project([index.id], project)
            orphans = self.store.delete_project(index.id, project) if existed else []
            missing = MirrorPage(index.id, project, 404, checked_at=time.time())
            self.store.put_mirror_page(missing, None)
            tx.after_commit(lambda: self._drop_unused(orphans))
        self._failures.pop((index.id, project), None)
        self._remember(missing)

    def _store_page(self, index: Index, project: str, parsed: UpstreamPage, headers: object) -> None:
        get = getattr(headers, "get", lambda _k, _d=None: None)
        files = [f for f in (self._dist_file(index, project, link) for link in parsed.links) if f is not None]
        versions = (
            parsed.versions
            if parsed.versions is not None
            else tuple(sorted({f.version for f in files if f.version}))
        )
        page = MirrorPage(
            index_id=index.id,
            project=project,
            status=200,
            etag=get("ETag") or "",
            last_modified=get("Last-Modified") or "",
            checked_at=time.time(),
            display_name=parsed.name,
            versions=tuple(versions),
            project_status=parsed.project_status,
            upstream_serial=parsed.last_serial,
        )
        with self.store.write(durable=False) as tx:
            is_new = not self.store.indexes_with_project([index.id], project)
            old = self.store.get_mirror_page(index.id, project)
            changed = self.store.put_mirror_page(page, files)
            facts_changed = (
                old is None or old.versions != page.versions or old.project_status != page.project_status
            )
            if changed or is_new or facts_changed:
                self.store.touch_project(index.id, project, parsed.name, tx.serial)
        self._remember(page)

    def _dist_file(self, index: Index, project: str, link: UpstreamLink) -> DistFile | None:
        try:
            check_safe_filename(link.filename)
        except InvalidUpload:
            log.warning("mirror %s: skipping unsafe filename %r", index.full_name, link.filename[:100])
            return None
        sha256 = link.hashes.get("sha256", "").lower()
        path_key = sha256 if len(sha256) == 64 else hashlib.sha256(link.url.encode()).hexdigest()
        return DistFile(
            index_id=index.id,
            project=project,
            version=_version_of(link.filename),
            filename=link.filename,
            path_key=path_key,
            sha256=sha256 if len(sha256) == 64 else "",
            size=link.size,
            upload_time=link.upload_time,
            hashes={k: v for k, v in link.hashes.items() if k != "sha256"},
            yanked=link.yanked,
            yanked_reason=link.yanked_reason,
            requires_python=link.requires_python,
            upstream_core_metadata=link.core_metadata,
            url=link.url,
            cached=False,
        )

    # -- files -----------------------------------------------------------------------------
    def stream_file(self, index: Index, file: DistFile) -> FileStream:
        if self.is_offline(index):
            raise UpstreamUnavailable(f"{file.filename} is not cached and {index.full_name} is offline")
        free = self.blobs.free_space()
        if free is not None and file.size is not None and free < file.size + DISK_RESERVE:
            raise InsufficientStorage(
                f"{file.filename} is not cached and the server's disk is too full to fetch it "
                f"({free} bytes free); ask its administrator to free space"
            )
        download, leader = self.downloads.get_or_start(
            (index.id, file.filename),
            lambda: SharedDownload(
                file,
                lambda: self.client.get(file.url, auth=self._auth_for(index, file.url), stream=True),
                self.blobs,
                lambda sha256, size: self._file_stored(index, file, sha256, size),
                lambda sha256: self._after_file_stored(index, file, sha256),
                f"{index.full_name}/{file.filename} from {redact_url(file.url)}",
            ),
        )
        if leader:
            download.open()  # raises what upstream answered instead of the file
            return _LeaderStream(download)
        download.wait_started(self._upstream_wait())
        return _ReaderStream(download)

    def settle_download(self, index: Index, file: DistFile) -> bool:
        """Store ``file``'s download now if it is complete and waiting for its store (see
        ``DownloadCoordinator.settle``); True if it was."""
        return self.downloads.settle((index.id, file.filename))

    def _file_stored(self, index: Index, file: DistFile, sha256: str, size: int) -> None:
        with self.store.write(durable=False) as tx:
            self.store.mark_cached(file.id, sha256, size)
            self.store.touch_project(index.id, file.project, "", tx.serial)
            event = Event(
                "file_cached",
                tx.serial,
                now_iso(),
                index=index.full_name,
                project=file.project,
                version=file.version,
                files=({"filename": file.filename, "sha256": sha256, "url": redact_url(file.url)},),
            )
            tx.after_commit(lambda: self.events.emit(event))

    def _after_file_stored(self, index: Index, file: DistFile, sha256: str) -> None:
        if file.upstream_core_metadata is None and file.filename.endswith(".whl"):
            # Upstream advertises no PEP 658 file: serve (and advertise) the wheel's own.
            core_sha = self._extract_metadata(sha256, file)
            if core_sha:
                with self.store.write(durable=False) as tx:
                    self.store.set_core_metadata(file.id, core_sha)
                    self.store.touch_project(index.id, file.project, "", tx.serial)
        self._evict(index)

    def _extract_metadata(self, sha256: str, file: DistFile) -> str:
        from idx_server.model.distfiles import parse_dist_filename

        path = self.blobs.local_path(sha256)
        if path is None:
            return ""
        try:
            metadata = read_metadata(Path(path), parse_dist_filename(file.filename))
        except (InvalidUpload, OSError) as exc:
            log.info("no core metadata extracted from %s: %s", file.filename, exc)
            return ""
        return self.blobs.put_bytes(metadata.data) if metadata.data else ""

    def core_metadata(self, index: Index, file: DistFile) -> str | None:
        """sha256 of the file's PEP 658 metadata (fetched or extracted): a stored blob, or
        one still held by :meth:`pending_metadata` until it is."""
        with self._metadata_lock:
            pending = self._metadata_files.get(file.id)
        if pending is not None:
            return pending
        advertised = file.upstream_core_metadata
        if advertised is not None and not self.is_offline(index):
            sha = self._fetch_metadata_once(index, file, advertised)
            if sha:
                return sha
        if file.cached and file.sha256 and file.filename.endswith(".whl"):
            sha = self._extract_metadata(file.sha256, file)
            if sha and (advertised is None or advertised.get("sha256") in (None, sha)):
                with self.store.write(durable=False) as tx:
                    self.store.set_core_metadata(file.id, sha)
                    if advertised is None:
                        self.store.touch_project(index.id, file.project, "", tx.serial)
                return sha
        return None

    def _fetch_metadata_once(self, index: Index, file: DistFile, advertised: dict[str, str]) -> str | None:
        """One upstream request for a file's metadata however many ask at once (a CI
        matrix resolving the same requirements): the first fetches, the others wait for
        it and get what it got."""
        key = ("metadata", file.id)
        waiting = self._flights.begin(key)
        if waiting is None:
            try:
                return self._fetch_metadata(index, file, advertised)
            finally:
                self._flights.end(key)
        waiting.wait(self._upstream_wait())
        with self._metadata_lock:
            pending = self._metadata_files.get(file.id)
        if pending is not None:
            return pending
        # Stored meanwhile, or the fetch failed (then so would this one: not asked again).
        stored = self.store.get_file(file.index_id, file.filename)
        return stored.core_metadata_sha256 if stored is not None and stored.id == file.id else None

    def _fetch_metadata(self, index: Index, file: DistFile, advertised: dict[str, str]) -> str | None:
        url = file.url + ".metadata"
        try:
            response = self.client.get(url, auth=self._auth_for(index, url))
        except IdxError as exc:
            log.warning("mirror %s: metadata of %s: %s", index.full_name, file.filename, exc.message)
            return None
        if response.status != 200:
            return None
        data = response.data
        sha = hashlib.sha256(data).hexdigest()
        expected = advertised.get("sha256")
        if expected and sha != expected:
            log.error(
                "mirror %s: metadata of %s does not match its advertised sha256",
                index.full_name,
                file.filename,
            )
            return None
        # Answered from memory, stored after (blob, then the row that points at it): a
        # cold resolution asks for dozens of these at once, and each store waits for the
        # disk twice (the blob, its directory).
        with self._metadata_lock:
            self._metadata_files[file.id] = sha
            self._metadata_blobs[sha] = data
        try:
            self.downloads.store_later(lambda: self._store_metadata(index, file, sha, data))
        except RuntimeError:  # no store thread could be started: store it now
            self._store_metadata(index, file, sha, data)
        return sha

    def pending_metadata(self, sha256: str) -> bytes | None:
        """Metadata fetched and being stored: its bytes, until the blob and row are written."""
        with self._metadata_lock:
            return self._metadata_blobs.get(sha256)

    def _store_metadata(self, index: Index, file: DistFile, sha256: str, data: bytes) -> None:
        try:
            self.blobs.put_bytes(data)
            with self.store.write(durable=False):
                self.store.set_core_metadata(file.id, sha256)
        except IdxError as exc:  # not cached now; the next request fetches it again
            log.warning(
                "mirror %s: metadata of %s not stored: %s", index.full_name, file.filename, exc.message
            )
        finally:
            with self._metadata_lock:
                self._metadata_files.pop(file.id, None)
                if sha256 not in self._metadata_files.values():
                    self._metadata_blobs.pop(sha256, None)

    # -- eviction --------------------------------------------------------------------------
    def _evict(self, index: Index) -> None:
        limit = int(index.config.get("mirror_max_size") or 0)
        if not limit:
            return
        total = self.store.mirror_cache_size(index.id)
        if total <= limit:
            return
        evicted: list[DistFile] = []
        for candidate in self.store.cached_files_lru(index.id):
            if total <= limit:
                break
            evicted.append(candidate)
            total -= candidate.size or 0
        with self.store.write(durable=False) as tx:
            for candidate in evicted:
                self.store.uncache_file(candidate.id)
                self.store.touch_project(index.id, candidate.project, "", tx.serial)
        self._drop_unused(candidate.sha256 for candidate in evicted)
        log.info(
            "mirror %s: evicted %d cached files to stay under %d bytes", index.full_name, len(evicted), limit
        )

    def _drop_unused(self, shas: Iterator[str] | list[str]) -> None:
        for sha in shas:
            if sha and not self.store.blob_in_use(sha):
                self.blobs.delete(sha)

    # -- the upstream project list -------------------------------------------------------
    def upstream_names(self, index: Index) -> StoredNames | None:
        """The stored upstream project list; starts a background refresh when it is
        missing or older than the mirror's expiry. Never waits for upstream."""
        stored = self.store.get_mirror_names(index.id, with_names=False)
        expiry = float(index.config.get("mirror_cache_expiry") or 0)
        if not self.is_offline(index) and (stored is None or time.time() - stored.checked_at > expiry):
            self._start_names_fetch(index, stored)
        if stored is None:
            return None
        with self._names_lock:
            cached = self._names_cache.get(index.id)
            if cached is None or cached.stamp != StoredNames.stamp_of(stored):
                cached = self._names_cache[index.id] = StoredNames(
                    stored, functools.partial(self.store.get_mirror_names, index.id)
                )
        return cached

    def _start_names_fetch(self, index: Index, stored: MirrorNames | None) -> None:
        key = ("names", index.id)
        if self._flights.begin(key) is not None:
            return

        def fetch() -> None:
            try:
                self.fetch_names(index, stored)
            except IdxError as exc:
                log.warning("mirror %s: project list: %s", index.full_name, exc.message)
            except Exception:
                log.exception("mirror %s: project list fetch failed", index.full_name)
            finally:
                self._flights.end(key)

        thread = threading.Thread(target=fetch, name=f"idx-names-{index.full_name}", daemon=True)
        with self._background_lock:
            self._background = {t for t in self._background if t.is_alive()} | {thread}
        thread.start()

    def fetch_names(self, index: Index, stored: MirrorNames | None = None) -> None:
        """Fetch the upstream project list, in a process of its own (see names_worker)."""
        upstream = self._upstream(index)
        out = self.settings.serverdir / "+cache" / f"names-{index.id}-{os.getpid()}.tmp"
        out.parent.mkdir(parents=True, exist_ok=True)
        request = {
            "url": upstream.url,
            "auth": upstream.auth,  # on stdin, never on a command line
            "etag": stored.etag if stored is not None else "",
            "connect_timeout": self.settings.upstream_connect_timeout,
            "read_timeout": self.settings.upstream_read_timeout,
            "retries": self.settings.upstream_retries,
            "user_agent": f"idx-server/{__version__}",
            "out": str(out),
            # The server may be pinned to one CPU (pin_cpu): the list is parsed on any.
            "cpus": allowed_cpus(),
        }
        try:
            process = subprocess.run(
                [sys.executable, "-m", "idx_server.mirror.names_worker"],
                input=json.dumps(request),
                check=False,
                capture_output=True,
                text=True,
                timeout=NAMES_TIMEOUT,
            )
            answer = json.loads(process.stdout.strip().splitlines()[-1]) if process.stdout.strip() else {}
            if "error" in answer or answer.get("status") not in (200, 304):
                detail = (
                    answer.get("error")
                    or process.stderr.strip()[-300:]
                    or f"exit status {process.returncode}"
                )
                raise UpstreamError(f"project list of {redact_url(upstream.url)}: {detail}")
            if answer["status"] == 304:
                with self.store.write(durable=False):
                    self.store.touch_mirror_names(index.id, time.time())
                return
            names = MirrorNames(
                index.id, out.read_bytes(), int(answer["count"]), str(answer["etag"]), time.time()
            )
        except subprocess.TimeoutExpired:
            raise UpstreamTimeout(f"the project list of {redact_url(upstream.url)} took too long") from None
        finally:
            out.unlink(missing_ok=True)
        with self.store.write(durable=False):
            self.store.put_mirror_names(names)
        log.info("mirror %s: upstream lists %d projects", index.full_name, names.count)

    def flights_idle(self) -> bool:
        return not self._flights._events and self.downloads.running() == 0


def _version_of(filename: str) -> str:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return ""


class _LeaderStream:
    """A download as the response body of the request that started it: the download
    runs as the body is read. If the body is closed before the end (the client went
    away), the rest is downloaded on a thread of its own."""

    def __init__(self, download: SharedDownload) -> None:
        self.size = download.size
        self.content_type = download.content_type
        self._download = download
        self._chunks = download.chunks()
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:  # StopIteration, or the download's error: it is over
            self._ended = True
            raise

    def close(self) -> None:
        if not self._ended:
            self._ended = True
            finish_in_background(self._download, self._chunks)


class _ReaderStream:
    """A shared download as the response body of a request that found it running."""

    def __init__(self, download: SharedDownload) -> None:
        self.size = download.size
        self.content_type = download.content_type
        self._iterator = download.reader()

    def __iter__(self) -> Iterator[bytes]:
        return self._iterator

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()
