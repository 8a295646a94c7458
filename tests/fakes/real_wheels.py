"""Real wheels (pytest, a build backend, ...) for e2e tests that run real installs: taken
once from the package registry or pip's cache with this machine's own pip settings,
kept in a cache directory (never in the repository), and served by a :class:`FakeUpstream`."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from idx_server.testing.dists import Dist
from packaging.utils import parse_wheel_filename

from fakes.upstream import FakeUpstream

PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:")


def download_wheels(requirements: Sequence[str], directory: Path) -> list[Path]:
    """The wheels of ``requirements`` and their dependencies for this Python, in
    ``directory`` (downloaded unless a previous run left them there)."""
    stamp = directory / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if not (stamp.exists() and stamp.read_text() == wanted and any(directory.glob("*.whl"))):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.whl"):
            old.unlink()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_CONFIG_FILE")
        }
        process = subprocess.run(
            [*PIP_DOWNLOAD, "--dest", str(directory), *requirements],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if process.returncode != 0:
            raise RuntimeError(f"pip download {' '.join(requirements)} failed:\n{process.stderr[-3000:]}")
        stamp.write_text(wanted)
    return sorted(directory.glob("*.whl"))


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return archive.read(name)
    return b""


def serve_wheels(upstream: FakeUpstream, wheels: Sequence[Path]) -> None:
    """Add ``wheels`` (with their PEP 658 metadata) to ``upstream``'s projects."""
    for path in wheels:
        name = str(parse_wheel_filename(path.name)[0])
        upstream.add_dist(name, Dist(path.name, path.read_bytes(), wheel_metadata(path)))
