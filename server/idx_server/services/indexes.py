"""Use cases around indexes: create, modify, delete, and the resolution order.

All indexes are few and read on every request, so they are kept in memory as one
snapshot, rebuilt whenever the configuration serial moves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from idx_server.events import Event, EventDispatcher
from idx_server.model.errors import Conflict, Forbidden, InvalidInput, NotFound
from idx_server.model.indexes import (
    Index,
    IndexConfig,
    IndexTypes,
    apply_changes,
    apply_operations,
    keep_secrets,
    new_config,
    resolution_order,
)
from idx_server.model.names import validate_index_name
from idx_server.services.clock import now_iso
from idx_server.storage import BlobStore, MetaStore

CONFIG_SERIAL = "config_serial"


#: How long a snapshot is trusted before the database is asked whether another process
#: changed the configuration (changes made by this process are seen at once).
SNAPSHOT_RECHECK_SECONDS = 1.0


@dataclass
class IndexSnapshot:
    """Every index, as of one configuration serial."""

    serial: int
    by_name: dict[str, Index]
    _orders: dict[str, list[Index]] = field(default_factory=dict)
    #: The store's write serial when this snapshot was last confirmed, and when to recheck.
    confirmed_write: int = -1
    recheck_at: float = 0.0

    def find(self, full_name: str) -> Index | None:
        return self.by_name.get(full_name)

    def resolution_order(self, index: Index) -> list[Index]:
        order = self._orders.get(index.full_name)
        if order is None:
            order = resolution_order(index, self.by_name.get)
            self._orders[index.full_name] = order
        return order

    def dependents(self, full_name: str) -> list[str]:
        return sorted(name for name, ix in self.by_name.items() if full_name in ix.config.bases)


def _keep_hidden_credentials(old: IndexConfig, new: IndexConfig) -> IndexConfig:
    """A mirror_url sent back as shown (credentials redacted) keeps the stored credentials."""
    from idx_server.mirror.upstream import redact_url

    old_url, new_url = old.get("mirror_url"), new.get("mirror_url")
    if old_url and new_url and new_url != old_url and new_url == redact_url(old_url):
        data = new.as_dict()
        data["mirror_url"] = old_url
        return IndexConfig(data)
    return new


class IndexService:
    def __init__(
        self, store: MetaStore, blobs: BlobStore, types: IndexTypes, events: EventDispatcher
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.types = types
        self.events = events
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------
    def snapshot(self) -> IndexSnapshot:
        """All indexes; the configuration serial is only read again after a write of this
        process or once a second (for writes of other processes)."""
        snapshot = self._snapshot
        write_serial = self.store.serial()
        now = time.monotonic()
        if snapshot is not None and snapshot.confirmed_write == write_serial and now < snapshot.recheck_at:
            return snapshot
        serial = int(self.store.get_meta(CONFIG_SERIAL) or 0)
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.serial != serial:
                indexes = {ix.full_name: self._typed(ix) for ix in self.store.list_indexes()}
                snapshot = self._snapshot = IndexSnapshot(serial, indexes)
            snapshot.confirmed_write = write_serial
            snapshot.recheck_at = now + SNAPSHOT_RECHECK_SECONDS
            return snapshot

    def _typed(self, index: Index) -> Index:
        return replace(index, index_type=self.types.get(index.type))

    def find(self, user: str, name: str) -> Index | None:
        return self.snapshot().find(f"{user}/{name}")

    def get(self, user: str, name: str) -> Index:
        index = self.find(user, name)
        if index is None:
            raise NotFound(f"index {user}/{name} does not exist")
        return index

    def all_indexes(self, user: str | None = None) -> list[Index]:
        indexes = self.snapshot().by_name.values()
        return sorted((ix for ix in indexes if user is None or ix.user == user), key=lambda ix: ix.full_name)

    def resolution_order(self, index: Index) -> list[Index]:
        return self.snapshot().resolution_order(index)

    def project_names(self, index: Index) -> list[str]:
        """The display names of the projects on ``index`` itself."""
        return [display for _name, display in self.store.project_names(index.id)]

    # -- writing -------------------------------------------------------------------------
    def create(self, user: str, name: str, values: Mapping[str, Any]) -> Index:
        validate_index_name(name)
        type_name = values.get("type", "stage")
        if not isinstance(type_name, str):
            raise InvalidInput("type: expected a string")
        index_type = self.types.require(type_name)
        config = new_config(index_type, user, values)
        now = now_iso()
        with self.store.write() as tx:
            if self.store.get_user(user) is None:
                raise NotFound(f"user {user!r} does not exist")
            if self.store.get_index(user, name) is not None:
                raise Conflict(f"index {user}/{name} already exists")
            self._check_bases(f"{user}/{name}", config.bases)
            index = self.store.add_index(user, name, config, now)
            self._bump(tx.serial)
            event = Event(
                "index_created",
                tx.serial,
                now,
                index=index.full_name,
                user=user,
                payload={"config": config.as_dict()},
            )
            tx.after_commit(lambda: self.events.emit(event))
        return self._typed(index)

    def modify(
        self, index: Index, values: Mapping[str, Any] | None = None, operations: Iterable[str] | None = None
    ) -> Index:
        if index.index_type is None:
            raise Forbidden(index.readonly_reason or "index is read-only")
        if values is not None:
            config = apply_changes(index.index_type, index.user, index.config, values)
        else:
            config = apply_operations(index.index_type, index.user, index.config, operations or [])
        config = keep_secrets(index.index_type, index.config, _keep_hidden_credentials(index.config, config))
        with self.store.write() as tx:
            self._check_bases(index.full_name, config.bases)
            self.store.update_index(index.id, config)
            self._bump(tx.serial)
        return replace(index, config=config)

    def set_config(self, index: Index, config: IndexConfig) -> None:
        """Store a configuration computed elsewhere (e.g. root/pypi's mirror_url at start)."""
        with self.store.write() as tx:
            self.store.update_index(index.id, config)
            self._bump(tx.serial)

    def delete(self, index: Index, force: bool = False, user: str = "") -> None:
        if not index.config.volatile and not force:
            raise Forbidden(
                f"index {index.full_name} is not volatile and cannot be deleted; set volatile=True first"
            )
        dependents = self.snapshot().dependents(index.full_name)
        if dependents:
            raise Conflict(
                f"index {index.full_name} is a base of {', '.join(dependents)}; "
                "remove it from their bases first"
            )
        with self.store.write() as tx:
            orphans = self.store.delete_index(index.id)
            self._bump(tx.serial)
            event = Event("index_deleted", tx.serial, now_iso(), index=index.full_name, user=user)
            tx.after_commit(lambda: self._drop_unused_blobs(orphans))
            tx.after_commit(lambda: self.events.emit(event))

    def _drop_unused_blobs(self, shas: list[str]) -> None:
        for sha in shas:
            if not self.store.blob_in_use(sha):
                self.blobs.delete(sha)

    def _bump(self, serial: int) -> None:
        self.store.set_meta(CONFIG_SERIAL, str(serial))

    def _check_bases(self, full_name: str, bases: list[str]) -> None:
        for base in bases:
            if base == full_name:
                raise InvalidInput(f"bases: index {full_name} cannot be its own base")
            user, _, name = base.partition("/")
            if self.store.get_index(user, name) is None:
                raise InvalidInput(f"bases: index {base} does not exist")
