"""``idx push NAME==VERSION TARGET``: a server-side copy of a release to another index."""

from __future__ import annotations

import argparse

from idx_client import hookimpl
from idx_client.commands import Command, add_index_option, add_json_flag
from idx_client.context import Context
from idx_client.errors import ClientError, UsageError
from idx_client.http import ServerError
from idx_client.specs import parse_exact_release

DESCRIPTION = """\
Copy a release (its files, metadata and test results) from the current index (or
--index) to TARGET, on the server. A non-volatile TARGET refuses a file it already has
with other content (409).

  idx push hello==1.0 alice/release
"""

OK = (200, 201)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="NAME==VERSION")
    parser.add_argument("target", metavar="TARGET", help="the index to copy to, USER/INDEX")
    add_index_option(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    name, version = parse_exact_release(args.spec)
    target: str = args.target.strip("/")
    if target.startswith("pypi:"):
        raise UsageError("pushing to an external repository (pypi:...) is not supported; use twine upload")
    if target.count("/") != 1 or not all(target.split("/")):
        raise UsageError(f"TARGET must be USER/INDEX, got {args.target!r}")
    source = ctx.index_name(args.index)
    body = {"name": name, "version": version, "targetindex": target}
    try:
        response = ctx.request("POST", ctx.url(source + "/"), body)
    except ServerError as exc:
        raise ClientError(f"push of {name}=={version} from {source} to {target} failed: {exc}") from None
    data = response.json() if response.is_json else {}
    actions = data.get("result") if isinstance(data, dict) and data.get("type") == "actionlog" else []
    failed = [a for a in actions or [] if not a or int(a[0]) not in OK]
    if ctx.out.json_mode:
        ctx.out.json(
            {"source": source, "target": target, "name": name, "version": version, "actions": actions}
        )
    else:
        for action in actions or []:
            ctx.out.line("  " + " ".join(str(part) for part in action))
        if not failed:
            ctx.out.line(f"pushed {name}=={version} from {source} to {target}")
    if failed:
        raise ClientError(f"push of {name}=={version} to {target}: {len(failed)} step(s) failed (see above)")
    return 0


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "push",
            "copy a release to another index (on the server)",
            add_arguments,
            run,
            DESCRIPTION,
            order=80,
        )
    ]
