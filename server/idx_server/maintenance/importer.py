"""``idx-server import``: fill a new server directory from an idx export (or, with
``--from-devpi``, from a ``devpi-export`` dump), all or nothing.

Every file is checked against its sha256 while it is copied; a damaged or incomplete
export is refused with the name of what is wrong, and nothing stays behind. Import
sends no events to plugins (a webhook would otherwise fire for every old release).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from idx_server.maintenance import (
    MaintenanceError,
    add_storage_arguments,
    has_server_data,
    human_size,
    is_sha256,
    load_maintenance_settings,
    open_storage,
    run_command,
)
from idx_server.maintenance import export_format as fmt
from idx_server.maintenance.plan import BlobSource, ImportPlan, PlannedFile, PlannedIndex, apply_plan
from idx_server.model.indexes import IndexConfig
from idx_server.model.names import split_index_name


def read_idx_export(source: Path) -> ImportPlan:
    """The plan for an idx export directory; refuses one that is damaged or incomplete."""
    data = _read_index_file(source)
    plan = ImportPlan()
    plan.users = [fmt.user_from_json(u, f"users[{n}]") for n, u in enumerate(_list(data, "users"))]
    plan.tokens = [fmt.token_from_json(t, f"tokens[{n}]") for n, t in enumerate(_list(data, "tokens"))]
    manifest = data.get("blobs")
    if not isinstance(manifest, dict):
        raise _damaged(source, "'blobs' must be an object of sha256: size")
    for sha, size in manifest.items():
        if not (isinstance(sha, str) and is_sha256(sha)) or not isinstance(size, int):
            raise _damaged(source, f"'blobs' has a bad entry {sha!r}: {size!r}")
        path = fmt.blob_path(source, sha)
        plan.blobs[sha] = BlobSource(sha, str(path.relative_to(source)), path=path, size=size)
    plan.indexes = [_index(item, f"indexes[{n}]") for n, item in enumerate(_list(data, "indexes"))]
    missing = sorted(str(b.path) for b in plan.blobs.values() if b.path is not None and not b.path.is_file())
    if missing:
        raise _damaged(source, f"{len(missing)} files are missing, e.g. {missing[0]}")
    return plan


def _read_index_file(source: Path) -> dict[str, Any]:
    index_file = source / fmt.INDEX_FILE
    if not index_file.is_file():
        if (source / "dataindex.json").is_file():
            raise MaintenanceError(f"{source} is a devpi-export dump: import it with --from-devpi {source}")
        raise MaintenanceError(
            f"{source} has no {fmt.INDEX_FILE}: it is not an idx export, or its export was interrupted"
        )
    try:
        data = json.loads(index_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(source, f"{fmt.INDEX_FILE} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != fmt.FORMAT:
        raise MaintenanceError(f"{index_file} is not an idx export (its 'format' is not {fmt.FORMAT!r})")
    if data.get("version") != fmt.VERSION:
        raise MaintenanceError(
            f"{index_file} has export format version {data.get('version')!r}; this idx-server reads "
            f"version {fmt.VERSION}: import it with the idx-server version that wrote it, or a newer one"
        )
    return data


def _damaged(source: Path, what: str) -> MaintenanceError:
    return MaintenanceError(f"the export in {source} is damaged: {what}; nothing was imported")


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise MaintenanceError(f"{fmt.INDEX_FILE}: '{key}' must be a list")
    return value


def _index(item: Any, where: str) -> PlannedIndex:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise MaintenanceError(f"{where}: expected an object with a 'name'")
    user, name = split_index_name(item["name"])
    config = item.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise MaintenanceError(f"{where} ({item['name']}): 'config' must be an object with a 'type'")
    planned = PlannedIndex(user, name, IndexConfig(config), created=str(item.get("created", "")))
    projects = item.get("projects") or {}
    if not isinstance(projects, dict):
        raise MaintenanceError(f"{where}: 'projects' must be an object")
    planned.projects = {str(k): str(v) for k, v in projects.items()}
    planned.releases = [
        fmt.release_from_json(r, f"{where}.releases[{n}]") for n, r in enumerate(item.get("releases") or [])
    ]
    for n, raw in enumerate(item.get("files") or []):
        file, results = fmt.file_from_json(raw, f"{where}.files[{n}]")
        planned.files.append(PlannedFile(file, results))
    planned.mirror_pages = [
        fmt.mirror_page_from_json(p, f"{where}.mirror_pages[{n}]")
        for n, p in enumerate(item.get("mirror_pages") or [])
    ]
    return planned


# -- the command -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idx-server import",
        description="Fill a new, empty server directory from an idx export (idx-server export) "
        "or from a devpi-export dump (--from-devpi). All or nothing.",
    )
    add_storage_arguments(parser, "The new server directory to fill.")
    parser.add_argument(
        "source", metavar="SOURCEDIR", nargs="?", help="A directory written by idx-server export."
    )
    parser.add_argument(
        "--from-devpi", metavar="DIR", help="Import a devpi-export dump (dataindex.json and its files)."
    )
    parser.add_argument(
        "--skip-index-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="--from-devpi: leave out indexes of this devpi type (e.g. one of an uninstalled plugin).",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    options = parser.parse_args(list(argv))
    if bool(options.source) == bool(options.from_devpi):
        parser.error("give either SOURCEDIR (an idx export) or --from-devpi DIR")
    return run_command("import", lambda: _run(options))


def _run(options: argparse.Namespace) -> int:
    from idx_server.app import index_types
    from idx_server.plugins import get_plugin_manager

    pm = get_plugin_manager()
    settings = load_maintenance_settings(options, pm)
    if options.from_devpi:
        from idx_server.maintenance.devpi_import import read_devpi_dump

        plan = read_devpi_dump(Path(options.from_devpi), index_types(pm), set(options.skip_index_type))
    else:
        plan = read_idx_export(Path(options.source))
    serverdir = settings.serverdir
    fresh, existed = not has_server_data(serverdir), serverdir.exists()
    try:
        with open_storage(settings, pm) as opened:
            apply_plan(opened, plan, progress=print)
    except BaseException:
        if fresh:  # it held nothing before: leave nothing
            _remove_contents(serverdir, remove_dir=not existed)
        raise
    for note in plan.notes:
        print(f"note: {note}")
    counts = plan.counts()
    size = sum(b.size or 0 for b in plan.blobs.values())
    print(
        f"imported {counts['users']} users, {counts['indexes']} indexes, {counts['releases']} releases, "
        f"{counts['files']} files, {counts['toxresults']} test results, {counts['tokens']} API tokens "
        f"({counts['blobs']} blobs, {human_size(size)}) into {serverdir}"
    )
    print(f"start the server with: idx-server --serverdir {serverdir}")
    return 0


def _remove_contents(directory: Path, remove_dir: bool) -> None:
    if remove_dir:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for child in directory.iterdir() if directory.exists() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
