"""Test results (tox's ``--result-json``) attached to release files."""

from __future__ import annotations

import json

from idx_server.events import Event, EventDispatcher
from idx_server.model.errors import InvalidInput, MethodNotAllowed, NotFound, PayloadTooLarge
from idx_server.model.indexes import Index
from idx_server.services.clock import now_iso
from idx_server.services.files import FileLocation
from idx_server.services.releases import toxresult_relpath
from idx_server.storage import BlobStore, MetaStore, ToxResult

MAX_TOXRESULT_SIZE = 10 * 1024 * 1024


class ToxResultService:
    def __init__(self, store: MetaStore, blobs: BlobStore, events: EventDispatcher) -> None:
        self.store = store
        self.blobs = blobs
        self.events = events

    def attach(self, index: Index, location: FileLocation, body: bytes, user: str) -> str:
        """Store ``body`` as a test result of the file; returns its path under the index."""
        file = location.file
        if location.origin.is_mirror:
            raise MethodNotAllowed(
                f"{file.filename} is on the mirror {location.origin.full_name}; "
                "test results attach to files of private indexes"
            )
        if location.origin.id != index.id:
            raise NotFound(
                f"{file.filename} is on {location.origin.full_name}, not on {index.full_name}; "
                "attach the result there"
            )
        if len(body) > MAX_TOXRESULT_SIZE:
            raise PayloadTooLarge(f"the test result is {len(body)} bytes; the limit is {MAX_TOXRESULT_SIZE}")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidInput(f"a test result must be JSON (tox --result-json): {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("a test result must be a JSON object (tox --result-json)")
        sha256 = self.blobs.put_bytes(body)
        now = now_iso()
        with self.store.write() as tx:
            stored = self.store.add_toxresult(
                ToxResult(0, index.id, file.id, file.filename, sha256, now, user)
            )
            self.store.touch_project(index.id, file.project, "", tx.serial)
            path = f"{index.full_name}/{toxresult_relpath(file, stored)}"
            event = Event(
                "toxresult_stored",
                tx.serial,
                now,
                index=index.full_name,
                project=file.project,
                version=file.version,
                user=user,
                files=({"filename": file.filename, "sha256": file.sha256},),
                payload={"filename": file.filename, "toxresult": path},
            )
            tx.after_commit(lambda: self.events.emit(event))
        return path

    def find(self, location: FileLocation, result_id: int) -> ToxResult:
        for result in self.store.toxresults_for([location.file.id]):
            if result.id == result_id:
                return result
        raise NotFound(f"no test result {result_id} for {location.file.filename}")
