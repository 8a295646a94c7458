"""What one index offers for one project: the resolution order, the dependency-confusion
rule, mirror refreshes, and the merge of files where an earlier index shadows a later one."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import pluggy

from idx_server.model.distfiles import DistFile
from idx_server.model.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from idx_server.model.indexes import Index, ProjectResolution, resolve_project
from idx_server.plugins import call_impl
from idx_server.services.clock import parse_iso
from idx_server.services.indexes import IndexService
from idx_server.storage import MetaStore

log = logging.getLogger("idx.resolve")

#: Mirror states: served from what was stored without asking upstream ...
FRESH = "fresh"
#: ... upstream was asked and answered (the stored data may have changed) ...
REFRESHED = "refreshed"
#: ... upstream failed, the stored data is served ...
STALE = "stale"
#: ... upstream has no such project.
MISSING = "missing"


class MirrorSource(Protocol):
    """What the resolution needs from mirrors (implemented by ``idx_server.mirror``)."""

    def refresh_project(self, index: Index, project: str, force: bool = False) -> str:
        """Bring the mirror's rows for ``project`` up to date as its expiry demands.

        Returns FRESH, STALE (upstream failed; cached rows kept) or MISSING (upstream has
        no such project). Raises UpstreamUnavailable / UpstreamTimeout / UpstreamError when
        upstream failed and nothing is cached.
        """

    def upstream_names(self, index: Index) -> UpstreamNames | None:
        """The upstream project list if it is known (never blocks; may start a fetch)."""

    def is_offline(self, index: Index) -> bool: ...


class UpstreamNames(Protocol):
    """A mirror's upstream project list."""

    #: Changes whenever the list does.
    stamp: str

    def sorted_names(self) -> Iterator[tuple[str, str]]:
        """(normalized, display) pairs sorted by normalized name."""

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class PreparedProject:
    """A project as seen through one index, before its files are read."""

    index: Index
    project: str
    resolution: ProjectResolution
    #: index id -> serial of the project's last change there (the cache key).
    serials: tuple[tuple[int, int], ...]
    #: Indexes whose data came from a stale mirror cache.
    stale: tuple[str, ...] = ()

    @property
    def exists(self) -> bool:
        return bool(self.serials)


@dataclass(frozen=True)
class ResolvedProject:
    """A project as seen through one index."""

    index: Index
    project: str
    resolution: ProjectResolution
    #: Visible files, first index wins per filename, in resolution order.
    files: tuple[DistFile, ...]
    #: Files hidden by an earlier index's file of the same name.
    shadowed: tuple[DistFile, ...]
    #: index id -> serial of the project's last change there (the cache key).
    serials: tuple[tuple[int, int], ...]
    #: Indexes whose data came from a stale mirror cache.
    stale: tuple[str, ...] = ()
    #: When the result changes without any write (mirror_min_age), seconds since the epoch.
    valid_until: float = float("inf")
    #: index id -> index, for the consulted indexes.
    origins: dict[int, Index] = field(default_factory=dict)
    #: Versions of mirror files not offered (cool-down, offline and not cached).
    hidden_versions: frozenset[str] = frozenset()
    #: Whether a plugin's idx_filter_project_files took files away.
    filtered: bool = False

    @property
    def exists(self) -> bool:
        return bool(self.serials)


class SerialCache:
    """Projects' last-change serials per index, remembered until the store's change stamp
    moves (any commit, of this process or another) and for at most a second."""

    MAX_AGE = 1.0
    MAX_ENTRIES = 50_000

    def __init__(self, store: MetaStore) -> None:
        self.store = store
        self._entries: dict[tuple[tuple[int, ...], str], tuple[object, float, dict[int, int]]] = {}

    def get(self, index_ids: tuple[int, ...], project: str) -> dict[int, int]:
        # The stamp is read before the query: an answer is only reused under the stamp
        # it was read under, so a commit racing with the query cannot be hidden.
        stamp = self.store.change_stamp()
        now = time.monotonic()
        key = (index_ids, project)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == stamp and now - entry[1] < self.MAX_AGE:
            return entry[2]
        serials = self.store.project_serials(index_ids, project)
        if len(self._entries) > self.MAX_ENTRIES:
            self._entries = {}
        self._entries[key] = (stamp, now, serials)
        return serials


class ProjectResolver:
    def __init__(
        self, store: MetaStore, indexes: IndexService, mirror: MirrorSource, pm: pluggy.PluginManager
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.mirror = mirror
        self.pm = pm
        self._serials = SerialCache(store)

    def resolution(self, index: Index, project: str, ignore_bases: bool = False) -> ProjectResolution:
        """Which indexes are asked for ``project`` (mirrors left out when a private index has it)."""
        return self._resolution(index, project, ignore_bases)[0]

    def _resolution(
        self, index: Index, project: str, ignore_bases: bool
    ) -> tuple[ProjectResolution, dict[int, int]]:
        order = [index] if ignore_bases else self.indexes.resolution_order(index)
        serials = self._serials.get(tuple(ix.id for ix in order), project)
        return resolve_project(order, project, lambda ix: ix.id in serials), serials

    def resolve(self, index: Index, project: str, ignore_bases: bool = False) -> ResolvedProject:
        """What ``index`` offers for ``project``, files merged."""
        return self.merge(self.prepare(index, project, ignore_bases))

    def prepare(self, index: Index, project: str, ignore_bases: bool = False) -> PreparedProject:
        """Everything but the files: the cheap part, enough to key a page cache."""
        resolution, known = self._resolution(index, project, ignore_bases)
        stale: list[str] = []
        failure: Exception | None = None
        changed: list[int] = []
        for mirror_index in (ix for ix in resolution.consulted if ix.is_mirror):
            try:
                state = self.mirror.refresh_project(mirror_index, project)
            except (UpstreamUnavailable, UpstreamTimeout, UpstreamError) as exc:
                failure = exc
                continue
            if state == STALE:
                stale.append(mirror_index.full_name)
            if state != FRESH:
                changed.append(mirror_index.id)
        consulted_ids = {ix.id for ix in resolution.consulted}
        serials = {ix_id: serial for ix_id, serial in known.items() if ix_id in consulted_ids}
        if changed:
            # A mirror talked to upstream: its serial may have moved.
            for ix_id in changed:
                serials.pop(ix_id, None)
            serials.update(self.store.project_serials(changed, project))
        if not serials and failure is not None:
            raise failure
        return PreparedProject(index, project, resolution, tuple(sorted(serials.items())), tuple(stale))

    def merge(self, prepared: PreparedProject) -> ResolvedProject:
        """The files of a prepared project, first index winning per file name."""
        index, project, resolution, stale = (
            prepared.index,
            prepared.project,
            prepared.resolution,
            prepared.stale,
        )
        serials = dict(prepared.serials)
        consulted = [ix for ix in resolution.consulted if ix.id in serials]
        rank = {ix.id: position for position, ix in enumerate(consulted)}
        rows = self.store.project_files(rank, project) if rank else []
        rows.sort(key=lambda f: (rank[f.index_id], f.filename))
        now = time.time()
        valid_until = float("inf")
        origins = {ix.id: ix for ix in consulted}
        visible: list[DistFile] = []
        shadowed: list[DistFile] = []
        seen: set[str] = set()
        hidden: set[str] = set()
        for f in rows:
            origin = origins[f.index_id]
            if origin.is_mirror:
                if not f.cached and self.mirror.is_offline(origin):
                    hidden.add(f.version)
                    continue
                min_age = int(origin.config.get("mirror_min_age") or 0)
                if min_age:
                    uploaded = parse_iso(f.upload_time)
                    if uploaded is None:
                        hidden.add(f.version)
                        continue  # unknown age: not provably old enough
                    if uploaded + min_age > now:
                        valid_until = min(valid_until, uploaded + min_age)
                        hidden.add(f.version)
                        continue
            if f.filename in seen:
                shadowed.append(f)
                continue
            seen.add(f.filename)
            visible.append(f)
        filtered = self._plugin_filter(index, project, visible)
        return ResolvedProject(
            index=index,
            project=project,
            resolution=resolution,
            files=tuple(filtered),
            shadowed=tuple(shadowed),
            serials=tuple(sorted(serials.items())),
            stale=stale,
            valid_until=valid_until,
            origins=origins,
            hidden_versions=frozenset(hidden),
            filtered=len(filtered) != len(visible),
        )

    def filter_names(self, index: Index, names: Iterator[str]) -> Iterator[str]:
        """``index``'s project list as the plugins' idx_filter_project_names leave it."""
        result: Iterable[str] = names
        name = "idx_filter_project_names"
        for impl in reversed(getattr(self.pm.hook, name).get_hookimpls()):
            replaced = call_impl(impl, name, {"index": index, "names": iter(result)})
            if replaced is not None:
                result = cast("Iterable[str]", replaced)
        return iter(result)

    def _plugin_filter(self, index: Index, project: str, files: Sequence[DistFile]) -> list[DistFile]:
        result: list[DistFile] = list(files)
        name = "idx_filter_project_files"
        for impl in reversed(getattr(self.pm.hook, name).get_hookimpls()):
            arguments: dict[str, Any] = {"index": index, "project": project, "files": result}
            replaced = cast("Sequence[DistFile] | None", call_impl(impl, name, arguments))
            if replaced is not None:
                result = list(replaced)
        return result
