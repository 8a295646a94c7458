"""Generated distributions for the benchmark: the 3,000-version project, the 1 MB and
100 MB files, the names of a 700,000-project root listing, and fresh uploads.

The archives are small but valid (idx's own test builders make them), so every server
under test can parse, store and serve them like real ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from idx_server.testing.dists import Dist, Project, make_sdist, make_wheel

#: The project with 3,000 versions and 9,000 files (two wheels and an sdist each).
BIG_PROJECT = "bench-big"
BIG_VERSIONS = 3000
BIG_WHEEL_TAGS = ("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")

#: The project whose two releases are the 1 MB and the 100 MB file.
BLOB_PROJECT = "bench-blob"
BLOB_SIZES = {"1mb": ("1.0", 1_000_000), "100mb": ("2.0", 100_000_000)}

#: How many names the upstream root listing has (PyPI's order of magnitude).
ROOT_NAMES = 700_000


@dataclass(frozen=True)
class Generated:
    project: str
    path: Path


def big_versions() -> list[str]:
    return [f"{i // 100}.{i % 100}" for i in range(BIG_VERSIONS)]


def write_big_project(directory: Path) -> Iterator[Generated]:
    """3,000 releases of ``bench-big``: 9,000 files."""
    for version in big_versions():
        project = Project(BIG_PROJECT, version, summary="a project with many releases")
        dists = [make_wheel(project, tag) for tag in BIG_WHEEL_TAGS]
        dists.append(make_sdist(project))
        for dist in dists:
            yield Generated(BIG_PROJECT, _write(directory, dist))


def write_blobs(directory: Path) -> dict[str, Generated]:
    """The 1 MB and 100 MB files: wheels whose payload is random (incompressible) bytes."""
    found = {}
    for key, (version, size) in BLOB_SIZES.items():
        project = Project(BLOB_PROJECT, version, summary=f"a {key} file")
        filename = f"bench_blob-{version}-py3-none-any.whl"
        path = directory / filename
        if not path.exists():
            dist = make_wheel(project, members=[("bench_blob/payload.bin", os.urandom(size))])
            assert dist.filename == filename, dist.filename
            _write(directory, dist)
        found[key] = Generated(BLOB_PROJECT, path)
    return found


def root_names(real_projects: list[str]) -> list[str]:
    """``ROOT_NAMES`` project names: the real ones first, then generated ones."""
    names = list(dict.fromkeys(real_projects))
    needed = ROOT_NAMES - len(names)
    names += [f"bench-name-{i:06d}" for i in range(needed)]
    return sorted(names)


def upload_batch(directory: Path, project: str, count: int) -> list[Path]:
    """``count`` new wheels of ``project``, with bytes no server has seen (so no run
    profits from content already stored by an earlier one)."""
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    paths = []
    for i in range(count):
        dist = make_wheel(Project(project, f"1.{i}", code=f"TOKEN = {token!r}\n"))
        paths.append(_write(directory, dist))
    return paths


def one_wheel(directory: Path, project: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    return _write(directory, make_wheel(Project(project, version, code=f"TOKEN = {token!r}\n")))


def _write(directory: Path, dist: Dist) -> Path:
    path = directory / dist.filename
    path.write_bytes(dist.content)
    return path
