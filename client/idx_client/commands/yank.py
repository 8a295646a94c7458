"""``idx yank`` and ``idx unyank``: mark a release's files yanked (PEP 592), or not."""

from __future__ import annotations

import argparse

from idx_client import hookimpl
from idx_client.commands import Command, add_index_option, add_json_flag
from idx_client.context import Context
from idx_client.specs import parse_exact_release


def add_yank_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="NAME==VERSION")
    parser.add_argument("--reason", default="", help="why (shown by pip and uv when they pick the release)")
    add_index_option(parser)
    add_json_flag(parser)


def add_unyank_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="NAME==VERSION")
    add_index_option(parser)
    add_json_flag(parser)


def _release_url(ctx: Context, args: argparse.Namespace, action: str) -> tuple[str, str, str]:
    name, version = parse_exact_release(args.spec)
    index = ctx.index_name(args.index)
    return ctx.url(f"{index}/{name}/{version}/{action}"), name, version


def run_yank(ctx: Context, args: argparse.Namespace) -> int:
    url, name, version = _release_url(ctx, args, "+yank")
    response = ctx.request("POST", url, {"reason": args.reason})
    ctx.out.result(
        {"yanked": f"{name}=={version}", "reason": args.reason, "message": response.message},
        [response.message],
    )
    return 0


def run_unyank(ctx: Context, args: argparse.Namespace) -> int:
    url, name, version = _release_url(ctx, args, "+unyank")
    response = ctx.request("POST", url, {})
    ctx.out.result({"unyanked": f"{name}=={version}", "message": response.message}, [response.message])
    return 0


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "yank", "yank a release: installers skip it unless pinned", add_yank_arguments, run_yank, order=90
        ),
        Command("unyank", "undo 'idx yank'", add_unyank_arguments, run_unyank, order=91),
    ]
