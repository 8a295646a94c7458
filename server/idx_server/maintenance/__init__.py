"""Maintenance commands of ``idx-server``: ``check``, ``export`` and ``import``.

They work on a server directory through the storage protocols (``MetaStore`` and
``BlobStore``), so they work the same with any storage backend. Each module has a
``main(argv) -> int`` that ``idx_server.cli`` runs for ``idx-server <command> ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pluggy

from idx_server.model.errors import IdxError
from idx_server.settings import Settings, load_settings
from idx_server.storage import BlobStore, MetaStore

_SHA256 = re.compile(r"[0-9a-f]{64}")


class MaintenanceError(IdxError):
    """A maintenance command cannot go on; the message says why and what to do."""


@dataclass
class OpenStorage:
    """The storage of one server directory, opened for a maintenance command."""

    settings: Settings
    pm: pluggy.PluginManager
    store: MetaStore
    blobs: BlobStore

    def close(self) -> None:
        self.store.close()


def add_storage_arguments(parser: argparse.ArgumentParser, serverdir_help: str) -> None:
    parser.add_argument("--serverdir", metavar="DIR", help=serverdir_help)
    parser.add_argument(
        "--config", metavar="FILE", help="A TOML file of server settings (for serverdir and storage)."
    )


def load_maintenance_settings(options: argparse.Namespace, pm: pluggy.PluginManager) -> Settings:
    """The server settings (from --config, ``IDX_*`` variables and --serverdir), as the
    daemon would read them, so a plugin's storage backend finds its settings."""
    extra = [s for found in pm.hook.idx_add_settings() for s in found or []]
    given = {"serverdir": options.serverdir, "config": options.config}
    return load_settings({k: v for k, v in given.items() if v is not None}, extra_settings=extra)


@contextmanager
def open_storage(settings: Settings, pm: pluggy.PluginManager) -> Iterator[OpenStorage]:
    from idx_server.app import storage_backend

    store, blobs = storage_backend(settings, pm).open(settings)
    opened = OpenStorage(settings, pm, store, blobs)
    try:
        yield opened
    finally:
        opened.close()


def has_server_data(serverdir: Path) -> bool:
    """Whether a server directory exists and holds anything at all."""
    return serverdir.is_dir() and any(serverdir.iterdir())


def run_command(name: str, body: Callable[[], int]) -> int:
    """Run a command's body; expected errors become one line on stderr and exit status 2."""
    try:
        return body()
    except IdxError as exc:
        print(f"idx-server {name}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"idx-server {name}: interrupted", file=sys.stderr)
        return 130


def is_sha256(name: str) -> bool:
    """Whether ``name`` is a sha256 hex digest (how blobs are named)."""
    return bool(_SHA256.fullmatch(name))


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
