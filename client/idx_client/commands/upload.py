"""``idx upload``: upload distribution files, or build the project here and upload that."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from idx_client import hookimpl
from idx_client.building import build_dists
from idx_client.commands import Command, add_index_option, add_json_flag
from idx_client.context import Context
from idx_client.distfiles import LocalDist, file_digests, find_dists, inspect_dist
from idx_client.errors import ClientError
from idx_client.http import UPLOAD_TIMEOUT, ServerError
from idx_client.multipart import encode_multipart
from idx_client.progress import ProgressBar, human_size, tracked, wants_bar

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

DESCRIPTION = """\
Upload wheels and sdists to the current index (or --index).

  idx upload                      build sdist and wheel of the project here, upload both
  idx upload dist/                every *.whl, *.tar.gz, *.zip in dist/
  idx upload dist/pkg-1.0.tar.gz  just that file
  idx upload --skip-existing dist/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or directories to upload")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip files the index already has with the same sha256 (from its simple page)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be uploaded; upload nothing")
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="when building: use this environment's build dependencies (python -m build --no-isolation)",
    )
    add_index_option(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    index = ctx.index_name(args.index)
    upload_url = ctx.url(index + "/")
    if not args.index:
        if not ctx.state.pypisubmit:
            raise ClientError(
                f"index {index} does not take uploads (is it a mirror?); use --index or 'idx use'"
            )
        upload_url = ctx.state.pypisubmit
    existing = ExistingFiles(ctx, index) if args.skip_existing else None
    with tempfile.TemporaryDirectory(prefix="idx-build-") as tmp:
        if args.paths:
            paths = find_dists(args.paths)
        else:
            paths = build_dists(Path.cwd(), Path(tmp), ctx.out, isolation=not args.no_isolation)
            ctx.out.line(f"built {', '.join(p.name for p in paths)}")
        dists = [inspect_dist(path) for path in paths]
        results = [upload_one(ctx, dist, index, upload_url, existing, args.dry_run) for dist in dists]
    if ctx.out.json_mode:
        ctx.out.json(results)
    return 0


def upload_one(
    ctx: Context, dist: LocalDist, index: str, url: str, existing: ExistingFiles | None, dry_run: bool
) -> dict[str, Any]:
    """Upload one file (or skip it); print one line; return what happened."""
    digests = file_digests(dist.path)
    result: dict[str, Any] = {
        "file": dist.filename,
        "index": index,
        "size": dist.size,
        "sha256": digests["sha256"],
    }
    size = human_size(dist.size)
    if existing is not None and existing.sha256(dist) == digests["sha256"]:
        ctx.out.line(f"skipped {dist.filename}: already on {index} with the same sha256")
        return {**result, "status": "skipped"}
    if dry_run:
        ctx.out.line(f"would upload {dist.filename} ({size}) to {url}")
        return {**result, "status": "dry-run"}
    fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", dist.project),
        ("version", dist.version),
        ("filetype", dist.filetype),
        ("pyversion", dist.pyversion),
        ("metadata_version", dist.metadata_version),
        ("sha256_digest", digests["sha256"]),
        ("blake2_256_digest", digests["blake2_256"]),
    ]
    body = encode_multipart(fields, "content", dist.path)
    bar = (
        ProgressBar(f"uploading {dist.filename}", body.length, ctx.out.stderr)
        if wants_bar(ctx.out.stderr, dist.size)
        else None
    )
    headers = {"Content-Type": body.content_type, "Content-Length": str(body.length)}
    try:
        response = ctx.request(
            "POST", url, headers=headers, body=tracked(body.chunks(), bar), timeout=UPLOAD_TIMEOUT
        )
    except ServerError as exc:
        raise ClientError(f"{dist.filename}: upload to {index} failed: {exc}") from None
    message_lines = response.message.splitlines() if not response.is_json else []
    if any("identical" in line for line in message_lines[:1]):
        ctx.out.line(f"{dist.filename}: the same file is already on {index}")
        status = "present"
    else:
        ctx.out.line(f"uploaded {dist.filename} ({size}) to {index}")
        status = "uploaded"
    for note in message_lines[1:]:
        ctx.out.line(f"  {note}")
    return {**result, "status": status}


class ExistingFiles:
    """The files an index itself has (not its bases), from its simple pages."""

    def __init__(self, ctx: Context, index: str) -> None:
        self.ctx = ctx
        self.index = index
        self._pages: dict[str, dict[str, str]] = {}

    def sha256(self, dist: LocalDist) -> str | None:
        project = dist.normalized_project
        if project not in self._pages:
            self._pages[project] = self._fetch(project)
        return self._pages[project].get(dist.filename)

    def _fetch(self, project: str) -> dict[str, str]:
        page_url = self.ctx.url(f"{self.index}/+simple/{project}/")
        response = self.ctx.request("GET", page_url, headers={"Accept": SIMPLE_JSON}, check=False)
        if response.status == 404 or response.status >= 500:
            return {}  # no such project here (a mirror base may be unreachable: not ours anyway)
        if not response.ok:
            raise ServerError(response)
        own_prefix = urlsplit(self.ctx.url(f"{self.index}/+f/")).path
        files: dict[str, str] = {}
        for entry in (response.json() or {}).get("files", []):
            url = urljoin(response.url, entry.get("url", ""))
            sha256 = (entry.get("hashes") or {}).get("sha256")
            if sha256 and urlsplit(url).path.startswith(own_prefix):
                files[entry.get("filename", "")] = sha256
        return files


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "upload",
            "upload distributions (or build and upload the project here)",
            add_arguments,
            run,
            DESCRIPTION,
            order=50,
        )
    ]
