"""``idx getjson PATH``: raw access to the server's JSON API."""

from __future__ import annotations

import argparse
import json

from idx_client import hookimpl
from idx_client.commands import Command
from idx_client.context import Context

DESCRIPTION = """\
GET a URL of the server's JSON API and print the JSON.

  idx getjson /                 the users and their indexes (a path from the server root)
  idx getjson /alice/dev        an index's config
  idx getjson hello             relative: under the current index (here its project hello)
  idx getjson http://host/+api  a full URL
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", metavar="PATH", help="/PATH from the server root, PATH under the index, or a URL"
    )


def resolve(ctx: Context, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    if path.startswith("/"):
        return ctx.url(path)
    return ctx.index_url() + path


def run(ctx: Context, args: argparse.Namespace) -> int:
    response = ctx.request("GET", resolve(ctx, args.path))
    print(json.dumps(response.json(), indent=2), file=ctx.out.stdout)
    return 0


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "getjson",
            "print the JSON the server answers for a path",
            add_arguments,
            run,
            DESCRIPTION,
            order=100,
        )
    ]
