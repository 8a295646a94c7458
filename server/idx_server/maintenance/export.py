"""``idx-server export``: write everything of a server to a directory (see
:mod:`idx_server.maintenance.export_format`), to back it up or move it.

The rows are read in one snapshot, so an export of a running server is consistent.
Every blob is hashed while it is copied: damaged bytes stop the export instead of
ending up in a backup. The index file is written last, so an interrupted export has
none and cannot be imported by mistake.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from idx_server import __version__
from idx_server.maintenance import (
    MaintenanceError,
    add_storage_arguments,
    has_server_data,
    human_size,
    load_maintenance_settings,
    open_storage,
    run_command,
)
from idx_server.maintenance import export_format as fmt
from idx_server.model.distfiles import DistFile
from idx_server.model.indexes import Index
from idx_server.services.clock import now_iso
from idx_server.storage import BlobStore, MetaStore, ToxResult

#: Login tokens from /+login are short-lived sessions: not worth carrying over.
SKIPPED_TOKEN_KINDS = frozenset({"login"})


@dataclass
class ExportSummary:
    counts: dict[str, int] = field(default_factory=dict)
    size: int = 0
    notes: list[str] = field(default_factory=list)


def export_store(
    store: MetaStore, blobs: BlobStore, target: Path, include_mirrored_files: bool = False
) -> ExportSummary:
    """Write the store's data to ``target`` (which must not exist or be empty)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise MaintenanceError(f"{target} is not empty; export into a new or empty directory")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _export(store, blobs, target, include_mirrored_files)
    except BaseException:
        # Leave nothing that looks like a (partial) export.
        shutil.rmtree(target / fmt.BLOB_DIR, ignore_errors=True)
        (target / (fmt.INDEX_FILE + ".partial")).unlink(missing_ok=True)
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise


def _export(store: MetaStore, blobs: BlobStore, target: Path, include_mirrored_files: bool) -> ExportSummary:
    summary = ExportSummary()
    blob_sizes: dict[str, int] = {}
    with store.read():
        data: dict[str, Any] = {
            "format": fmt.FORMAT,
            "version": fmt.VERSION,
            "idx_server": __version__,
            "exported": now_iso(),
            "serial": store.serial(),
            "include_mirrored_files": include_mirrored_files,
            "users": [fmt.user_json(user) for user in store.list_users()],
            "tokens": [
                fmt.token_json(token, secret_hash)
                for token, secret_hash in store.iter_tokens()
                if token.kind not in SKIPPED_TOKEN_KINDS
            ],
        }
        results: dict[int, list[ToxResult]] = defaultdict(list)
        for result in store.iter_toxresults():
            results[result.file_id].append(result)
        indexes = []
        for index in store.list_indexes():
            exported, needed = _export_index(store, blobs, index, results, include_mirrored_files, summary)
            for sha in needed:
                if sha not in blob_sizes:
                    blob_sizes[sha] = _copy_blob(blobs, sha, target)
            indexes.append(exported)
        data["indexes"] = indexes
    data["blobs"] = blob_sizes
    summary.size = sum(blob_sizes.values())
    summary.counts = {
        "users": len(data["users"]),
        "tokens": len(data["tokens"]),
        "indexes": len(indexes),
        "releases": sum(len(ix["releases"]) for ix in indexes),
        "files": sum(len(ix["files"]) for ix in indexes),
        "toxresults": sum(len(f["toxresults"]) for ix in indexes for f in ix["files"]),
        "blobs": len(blob_sizes),
    }
    _write_index_file(target, data)
    return summary


def _export_index(
    store: MetaStore,
    blobs: BlobStore,
    index: Index,
    results: dict[int, list[ToxResult]],
    include_mirrored: bool,
    summary: ExportSummary,
) -> tuple[dict[str, Any], list[str]]:
    """An index as exported, and the blobs it needs."""
    exported: dict[str, Any] = {
        "name": index.full_name,
        "created": index.created,
        "config": index.config.as_dict(),
        "projects": {},
        "releases": [],
        "files": [],
        "mirror_pages": [],
    }
    needed: list[str] = []
    if index.is_mirror:
        if include_mirrored:
            _export_mirror(store, blobs, index, exported, needed, summary)
        return exported, needed
    exported["projects"] = dict(store.project_names(index.id))
    exported["releases"] = [fmt.release_json(r) for r in store.iter_releases(index.id)]
    for stored in store.iter_files(index.id):
        mine = results.get(stored.id, [])
        f = _exportable(blobs, stored, index, summary)
        exported["files"].append(fmt.file_json(f, mine))
        needed += [sha for sha in (f.sha256 if f.cached else "", f.core_metadata_sha256) if sha]
        needed += [r.sha256 for r in mine]
    return exported, needed


def _export_mirror(
    store: MetaStore,
    blobs: BlobStore,
    index: Index,
    exported: dict[str, Any],
    needed: list[str],
    summary: ExportSummary,
) -> None:
    for project in store.mirror_page_projects(index.id):
        page = store.get_mirror_page(index.id, project)
        if page is None:
            continue
        exported["mirror_pages"].append(fmt.mirror_page_json(page))
        for stored in store.project_files([index.id], project):
            f = _exportable(blobs, stored, index, summary)
            exported["files"].append(fmt.file_json(f, []))
            needed += [sha for sha in (f.sha256 if f.cached else "", f.core_metadata_sha256) if sha]


def _exportable(blobs: BlobStore, f: DistFile, index: Index, summary: ExportSummary) -> DistFile:
    """``f`` as it can be exported: a mirror's lost cached copy or lost core metadata is
    left out (got again on demand); a private file's lost bytes stop the export."""
    name = f"{index.full_name} {f.filename}"
    if f.cached and not (f.sha256 and blobs.exists(f.sha256)):
        if not f.url:
            raise MaintenanceError(
                f"{name}: its bytes (sha256 {f.sha256}) are missing from the store; "
                "run idx-server check to see what else is wrong"
            )
        summary.notes.append(f"{name}: cached copy missing, exported as not cached")
        f = replace(f, cached=False, core_metadata_sha256="")
    if f.core_metadata_sha256 and not blobs.exists(f.core_metadata_sha256):
        summary.notes.append(f"{name}: core metadata missing, not exported")
        f = replace(f, core_metadata_sha256="")
    return f


def _copy_blob(blobs: BlobStore, sha256: str, target: Path) -> int:
    destination = fmt.blob_path(target, sha256)
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with blobs.open(sha256) as source, destination.open("wb") as out:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise MaintenanceError(
            f"blob {sha256} disappeared while it was exported (deleted by the running server?); "
            "export again into a new directory"
        ) from None
    if digest.hexdigest() != sha256:
        raise MaintenanceError(
            f"blob {sha256} is damaged (its bytes hash to {digest.hexdigest()}); "
            "run idx-server check --checksums to see which file it is"
        )
    return size


def _write_index_file(target: Path, data: dict[str, Any]) -> None:
    temporary = target / (fmt.INDEX_FILE + ".partial")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(target / fmt.INDEX_FILE)


# -- the command -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idx-server export",
        description="Write users, indexes, releases, files, test results and API tokens of a "
        "server to a directory, for a backup or to move to another server (idx-server import).",
    )
    add_storage_arguments(parser, "The server directory to export.")
    parser.add_argument("target", metavar="TARGETDIR", help="A new or empty directory to write to.")
    parser.add_argument(
        "--include-mirrored-files",
        action="store_true",
        help="Also export mirrors' cached pages and files (by default only their settings).",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    options = build_parser().parse_args(list(argv))
    return run_command("export", lambda: _run(options))


def _run(options: argparse.Namespace) -> int:
    from idx_server.plugins import get_plugin_manager

    pm = get_plugin_manager()
    settings = load_maintenance_settings(options, pm)
    if not has_server_data(settings.serverdir):
        raise MaintenanceError(f"{settings.serverdir} holds no idx server data")
    target = Path(options.target)
    with open_storage(settings, pm) as opened:
        summary = export_store(opened.store, opened.blobs, target, options.include_mirrored_files)
    for note in summary.notes:
        print(f"note: {note}")
    counts = ", ".join(f"{value} {name}" for name, value in summary.counts.items())
    print(f"exported {counts} ({human_size(summary.size)}) to {target}")
    return 0
