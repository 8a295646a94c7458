"""``idx remove``: delete a project, some releases, or one file from an index."""

from __future__ import annotations

import argparse
from typing import Any

from idx_client import hookimpl
from idx_client.commands import Command, add_index_option, add_json_flag, add_yes_flag
from idx_client.commands.list import origin_index, release_row
from idx_client.context import Context
from idx_client.errors import ClientError
from idx_client.http import ServerError
from idx_client.specs import parse_release_spec

DESCRIPTION = """\
Delete from the current index (or --index), after asking. Only volatile indexes allow
it, unless the owner or root passes --force.

  idx remove hello              the whole project
  idx remove hello==1.0         one release
  idx remove 'hello<2'          every matching release
  idx remove URL                one file (a URL from 'idx list')
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="NAME, NAME==VERSION, NAME<VERSION..., or a file URL")
    parser.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="delete from a non-volatile index too (index owner or root only)",
    )
    add_yes_flag(parser)
    add_index_option(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    query = "?force" if args.force else ""
    if args.spec.startswith(("http://", "https://")):
        ctx.out.confirm(f"delete {args.spec}?", args.yes)
        response = ctx.request("DELETE", args.spec + query)
        ctx.out.result({"deleted": [args.spec]}, [response.message])
        return 0
    index = ctx.index_name(args.index)
    spec = parse_release_spec(args.spec)
    project_url = ctx.url(f"{index}/{spec.normalized}")
    versions = ctx.get_json(project_url + "?ignore_bases").result or {}
    doomed = _on_index(index, [release_row(v, d) for v, d in versions.items() if spec.matches(v)])
    if not doomed:
        raise ClientError(f"nothing on {index} matches {args.spec}")
    ctx.out.line(f"on {index}:")
    for release in doomed:
        ctx.out.line(
            f"  {release['name']} {release['version']}: {', '.join(f['filename'] for f in release['files'])}"
        )
    whole = not str(spec.specifier)
    what = f"project {spec.project}" if whole else f"{len(doomed)} release{'s' if len(doomed) > 1 else ''}"
    ctx.out.confirm(f"delete {what} from {index}?", args.yes)
    urls = [project_url + query] if whole else [f"{project_url}/{r['version']}{query}" for r in doomed]
    messages = []
    for url in urls:
        try:
            messages.append(ctx.request("DELETE", url).message)
        except ServerError as exc:
            if exc.status == 403 and not args.force:
                raise ClientError(f"{exc}; the index owner or root may pass --force") from None
            raise
    ctx.out.result({"deleted": [f"{r['name']}=={r['version']}" for r in doomed]}, messages)
    return 0


def _on_index(index: str, releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The releases with files on ``index`` itself, with only those files."""
    kept = []
    for release in releases:
        files = [f for f in release["files"] if origin_index(f["url"]) == index]
        if files:
            kept.append({**release, "files": files})
    return kept


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "remove",
            "delete a project, releases or a file from an index (asks first)",
            add_arguments,
            run,
            DESCRIPTION,
            order=70,
        )
    ]
