"""Push: a server-side copy of a release (files, metadata, test results) to another index."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from idx_server.events import Event, EventDispatcher, file_ref
from idx_server.model.errors import Conflict, Forbidden, NotFound
from idx_server.model.indexes import Index
from idx_server.model.users import Release
from idx_server.services.clock import now_iso
from idx_server.services.releases import normalize_version, toxresult_relpath
from idx_server.services.uploads import check_index_accepts_uploads
from idx_server.storage import MetaStore, ToxResult

#: devpi's action log: [status, action, details...]
ActionLog = list[list[Any]]


class PushService:
    def __init__(self, store: MetaStore, events: EventDispatcher) -> None:
        self.store = store
        self.events = events

    def push(self, source: Index, target: Index, project: str, version: str, user: str) -> ActionLog:
        """Copy ``project==version`` from ``source`` itself to ``target``, all or nothing."""
        check_index_accepts_uploads(target)
        if target.id == source.id:
            raise Forbidden(f"cannot push {project} {version} from {source.full_name} to itself")
        version = normalize_version(version)
        release = self.store.get_release(source.id, project, version)
        files = self.store.release_files(source.id, project, version)
        if release is None or not files:
            raise NotFound(
                f"{project} {version} is not on {source.full_name} (push copies from that index itself)"
            )
        now = now_iso()
        log: ActionLog = [[200, "register", project, version, "->", target.full_name]]
        with self.store.write() as tx:
            existing = {f.filename: f for f in self.store.release_files(target.id, project, version)}
            for f in files:
                other = existing.get(f.filename)
                if other is not None and other.sha256 != f.sha256 and not target.config.volatile:
                    raise Conflict(
                        f"File already exists: {f.filename} is on {target.full_name} with other content "
                        "and the index is not volatile"
                    )
            old = self.store.get_release(target.id, project, version)
            self.store.put_release(
                Release(
                    target.id,
                    project,
                    version,
                    dict(release.metadata),
                    old.created if old else now,
                    tx.serial,
                )
            )
            results = self.store.toxresults_for(f.id for f in files)
            for f in files:
                entry = {
                    "what": "push",
                    "who": user,
                    "when": now,
                    "src": source.full_name,
                    "dst": target.full_name,
                }
                copied = self.store.put_file(
                    replace(f, id=0, index_id=target.id, log=(*f.log, entry), upload_time=f.upload_time)
                )
                log.append([200, "store_releasefile", f"{target.full_name}/{copied.relpath}"])
                for result in (r for r in results if r.file_id == f.id):
                    stored = self.store.add_toxresult(
                        ToxResult(
                            0,
                            target.id,
                            copied.id,
                            f.filename,
                            result.sha256,
                            result.created,
                            result.uploader,
                        )
                    )
                    log.append(
                        [200, "store_toxresult", f"{target.full_name}/{toxresult_relpath(copied, stored)}"]
                    )
            self.store.touch_project(
                target.id, project, str(release.metadata.get("name") or project), tx.serial
            )
            event = Event(
                "pushed",
                tx.serial,
                now,
                index=target.full_name,
                project=project,
                version=version,
                user=user,
                files=tuple(file_ref(target.full_name, f) for f in files),
                payload={"source": source.full_name},
            )
            tx.after_commit(lambda: self.events.emit(event))
        return log
