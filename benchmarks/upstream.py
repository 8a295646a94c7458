"""The benchmark's upstream: a local PEP 503 / PEP 691 tree standing in for PyPI.

``build`` (run once; later runs reuse the cache dir) makes ``CACHE/upstream/``:

- ``files/``: the real wheels of ``requirements.txt`` (downloaded once from the
  package registry with ``pip download``), sdists of some of them, and generated
  files: ``bench-big`` (3,000 versions, 9,000 files) and ``bench-blob`` (1 MB and
  100 MB); every wheel with its ``.metadata`` file (PEP 658), as PyPI has;
- ``simple/<project>/index.html`` and ``index.json`` with ``#sha256=`` links, and
  ``simple/index.html`` / ``index.json`` listing 700,000 names;
- ``manifest.json``: what is where, read by ``run.py``.

``serve`` serves it with the threaded static server, optionally slowed down:

    python benchmarks/upstream.py build
    python benchmarks/upstream.py serve --port 8000 --latency 30ms
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fixtures
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_CACHE = HERE.parent / ".bench-cache"
#: Bump when the tree's layout changes, so old caches are rebuilt.
FORMAT = 1
#: Pure-Python projects whose sdists are fetched too (pages list wheels and sdists, as
#: PyPI's do). Fetching an sdist makes pip build its metadata, so the list is short.
SDIST_PROJECTS = ("six", "idna", "requests", "certifi", "packaging", "click", "jinja2", "pluggy")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64")
UPLOAD_TIME = "2026-01-01T00:00:00.000000Z"

Log = Callable[[str], None]


@dataclass(frozen=True)
class Upstream:
    """A built tree, as described by its manifest."""

    root: Path
    manifest: dict[str, Any]

    @property
    def requirements(self) -> list[str]:
        return list(self.manifest["requirements"])

    def blob(self, key: str) -> dict[str, Any]:
        return dict(self.manifest["blobs"][key])


def pinned_requirements(path: Path = REQUIREMENTS) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def measurement_env() -> dict[str, str]:
    """The environment for a pip or uv that must go through the given index only: no
    config files, find-links or extra indexes of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    for var in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
        if var in os.environ:
            env[var] = os.environ[var]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _pip(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", *args]
    return subprocess.run(
        cmd, check=False, env=measurement_env(), capture_output=True, text=True, timeout=timeout
    )


def download_wheels(directory: Path, requirements: Path, log: Log) -> None:
    stamp = directory / ".requirements.sha256"
    wanted = _digest(requirements)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    log(f"downloading the wheels of {requirements.name} from the package registry")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    result = _pip(
        [
            "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311", *platforms, "-d", str(directory),
            "-r", str(requirements),
        ],
        timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"pip download failed:\n{result.stderr[-3000:]}")
    stamp.write_text(wanted)


def download_sdists(directory: Path, requirements: list[str], log: Log) -> None:
    """Best effort: an sdist that pip cannot fetch is left out (and noted)."""
    directory.mkdir(parents=True, exist_ok=True)
    failed_path = directory / "failed.json"
    failed = set(json.loads(failed_path.read_text())) if failed_path.exists() else set()
    have = {canonicalize_name(parse_sdist_filename(p.name)[0]) for p in directory.glob("*.tar.gz")}
    for requirement in requirements:
        name = canonicalize_name(requirement.split("==")[0])
        if name not in SDIST_PROJECTS or name in have or requirement in failed:
            continue
        log(f"downloading the sdist of {requirement}")
        args = ["download", "--no-deps", "--no-binary=:all:", "-d", str(directory), requirement]
        try:
            ok = _pip(args, timeout=180).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        if not ok:
            failed.add(requirement)
            failed_path.write_text(json.dumps(sorted(failed)))


def generate(directory: Path, log: Log) -> tuple[list[fixtures.Generated], dict[str, fixtures.Generated]]:
    big_dir = directory / "big"
    done = big_dir / ".complete"
    if not done.exists():
        log(f"generating {fixtures.BIG_PROJECT}: {fixtures.BIG_VERSIONS} versions")
        shutil.rmtree(big_dir, ignore_errors=True)
        big_dir.mkdir(parents=True)
        list(fixtures.write_big_project(big_dir))
        done.touch()
    big = [fixtures.Generated(fixtures.BIG_PROJECT, p) for p in sorted(big_dir.iterdir()) if p != done]
    blob_dir = directory / "blobs"
    if not blob_dir.exists():
        log("generating the 1 MB and 100 MB files")
    blob_dir.mkdir(parents=True, exist_ok=True)
    return big, fixtures.write_blobs(blob_dir)


def project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[0])
    return str(parse_sdist_filename(filename)[0])


def wheel_metadata(path: Path) -> bytes | None:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return archive.read(name)
    return None


@dataclass(frozen=True)
class FileEntry:
    filename: str
    sha256: str
    size: int
    metadata_sha256: str | None
    requires_python: str | None


def add_file(files_dir: Path, source: Path) -> FileEntry:
    """Link ``source`` into the tree, with its ``.metadata`` when it is a wheel."""
    target = files_dir / source.name
    if not target.exists():
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    metadata_sha = requires_python = None
    if source.name.endswith(".whl"):
        metadata = wheel_metadata(target)
        if metadata is not None:
            (files_dir / (source.name + ".metadata")).write_bytes(metadata)
            metadata_sha = hashlib.sha256(metadata).hexdigest()
            headers = email.parser.BytesHeaderParser().parsebytes(metadata)
            requires_python = headers.get("Requires-Python")
    return FileEntry(source.name, _digest(target), target.stat().st_size, metadata_sha, requires_python)


def project_html(name: str, entries: Iterable[FileEntry]) -> str:
    lines = [
        "<!DOCTYPE html>",
        '<html><head><meta name="pypi:repository-version" content="1.1">',
        f"<title>Links for {html.escape(name)}</title></head><body>",
        f"<h1>Links for {html.escape(name)}</h1>",
    ]
    for entry in entries:
        attrs = f'href="/files/{entry.filename}#sha256={entry.sha256}"'
        if entry.requires_python:
            attrs += f' data-requires-python="{html.escape(entry.requires_python)}"'
        if entry.metadata_sha256:
            meta = f"sha256={entry.metadata_sha256}"
            attrs += f' data-dist-info-metadata="{meta}" data-core-metadata="{meta}"'
        lines.append(f"<a {attrs}>{entry.filename}</a><br/>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def project_json(name: str, entries: list[FileEntry]) -> str:
    files = []
    for entry in entries:
        item: dict[str, Any] = {
            "filename": entry.filename,
            "url": f"/files/{entry.filename}",
            "hashes": {"sha256": entry.sha256},
            "requires-python": entry.requires_python,
            "size": entry.size,
            "upload-time": UPLOAD_TIME,
            "yanked": False,
        }
        if entry.metadata_sha256:
            item["core-metadata"] = item["dist-info-metadata"] = {"sha256": entry.metadata_sha256}
        files.append(item)
    versions = sorted({_version_of(e.filename) for e in entries})
    page = {"meta": {"api-version": "1.1"}, "name": name, "versions": versions, "files": files}
    return json.dumps(page, separators=(",", ":"))


def _version_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def write_root_listing(simple_dir: Path, names: list[str]) -> None:
    body = "".join(f'<a href="/simple/{n}/">{n}</a>\n' for n in names)
    (simple_dir / "index.html").write_text(
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
        f"<title>Simple index</title></head><body>\n{body}</body></html>\n"
    )
    projects = [{"name": n} for n in names]
    listing = {"meta": {"api-version": "1.1"}, "projects": projects}
    (simple_dir / "index.json").write_text(json.dumps(listing, separators=(",", ":")))


def build(cache: Path = DEFAULT_CACHE, refresh: bool = False, log: Log = print) -> Upstream:
    """Build the tree in ``cache`` (or reuse it when it is complete and current)."""
    tree = cache / "upstream"
    manifest_path = tree / "manifest.json"
    requirements = pinned_requirements()
    if manifest_path.exists() and not refresh:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") == FORMAT and manifest.get("requirements") == requirements:
            return Upstream(tree, manifest)
    started = time.monotonic()
    downloads = cache / "downloads"
    if refresh:
        shutil.rmtree(downloads, ignore_errors=True)
    download_wheels(downloads / "wheels", REQUIREMENTS, log)
    download_sdists(downloads / "sdists", requirements, log)
    big, blobs = generate(cache / "generated", log)

    log("writing the PEP 503 / PEP 691 tree")
    shutil.rmtree(tree, ignore_errors=True)
    files_dir, simple_dir = tree / "files", tree / "simple"
    files_dir.mkdir(parents=True)
    simple_dir.mkdir()
    sources = sorted([*(downloads / "wheels").glob("*.whl"), *(downloads / "sdists").glob("*.tar.gz")])
    by_project: dict[str, list[FileEntry]] = defaultdict(list)
    for path in sources:
        by_project[str(canonicalize_name(project_of(path.name)))].append(add_file(files_dir, path))
    for item in [*big, *blobs.values()]:
        by_project[item.project].append(add_file(files_dir, item.path))
    for name, entries in by_project.items():
        page_dir = simple_dir / name
        page_dir.mkdir()
        (page_dir / "index.html").write_text(project_html(name, entries))
        (page_dir / "index.json").write_text(project_json(name, entries))
    write_root_listing(simple_dir, fixtures.root_names(sorted(by_project)))

    blob_files = {e.filename: e for e in by_project[fixtures.BLOB_PROJECT]}
    manifest = {
        "format": FORMAT,
        "requirements": requirements,
        "projects": {name: sorted(e.filename for e in entries) for name, entries in by_project.items()},
        "wheels_of_requirements": len(list((downloads / "wheels").glob("*.whl"))),
        "sdists": sorted(p.name for p in (downloads / "sdists").glob("*.tar.gz")),
        "big": {
            "project": fixtures.BIG_PROJECT,
            "versions": fixtures.BIG_VERSIONS,
            "files": len(by_project[fixtures.BIG_PROJECT]),
        },
        "blobs": {
            key: {
                "project": fixtures.BLOB_PROJECT,
                "filename": item.path.name,
                "size": blob_files[item.path.name].size,
                "sha256": blob_files[item.path.name].sha256,
            }
            for key, item in blobs.items()
        },
        "root_names": fixtures.ROOT_NAMES,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    log(f"upstream tree ready in {tree} ({time.monotonic() - started:.0f} s)")
    return Upstream(tree, manifest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or serve the benchmark's upstream tree.")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache dir (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the tree (or check that it is current)")
    build_cmd.add_argument("--refresh", action="store_true", help="download and generate everything again")
    serve_cmd = sub.add_parser("serve", help="serve the tree (builds it first if needed)")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--latency", default="0", help="added to every request, e.g. 30ms")
    args = parser.parse_args(argv)
    upstream = build(args.cache, refresh=getattr(args, "refresh", False))
    if args.command == "build":
        print(upstream.root)
        return 0
    import static_server

    return static_server.main(
        ["--root", str(upstream.root), "--port", str(args.port), "--latency", args.latency]
    )


if __name__ == "__main__":
    sys.exit(main())
