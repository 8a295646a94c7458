"""``idx token``: API tokens for pip, uv, twine and poetry (the Basic-auth password)."""

from __future__ import annotations

import argparse
from typing import Any

from idx_client import hookimpl
from idx_client.commands import Command, add_json_flag
from idx_client.context import Context
from idx_client.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token; its secret is shown once")
    create.add_argument("--index", metavar="USER/INDEX", help="only valid on this index")
    create.add_argument(
        "--scope",
        choices=("read", "upload"),
        help="read: install only; upload: also upload and attach test results (default: all your rights)",
    )
    create.add_argument("--expires", metavar="DURATION", help="e.g. 30d, 12h (default: never)")
    create.add_argument("--description", default="", help="what the token is for")
    create.add_argument("--user", help="for another user (root only)")
    add_json_flag(create)
    listing = actions.add_parser("list", help="list your tokens (never their secrets)")
    listing.add_argument("--user", help="another user's (root only)")
    add_json_flag(listing)
    revoke = actions.add_parser("revoke", help="revoke a token: it stops working at once")
    revoke.add_argument("token_id", metavar="ID", type=int)
    revoke.add_argument("--user", help="another user's (root only)")
    add_json_flag(revoke)


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "create":
        return _create(ctx, args)
    if args.action == "list":
        return _list(ctx, args)
    return _revoke(ctx, args)


def _create(ctx: Context, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"description": args.description}
    if args.index:
        body["index"] = ctx.index_name(args.index)
    if args.scope:
        body["scope"] = args.scope
    if args.expires:
        body["expires"] = args.expires
    if args.user:
        body["user"] = args.user
    token = ctx.request("POST", ctx.url("+tokens"), body).result
    lines = [
        f"token {token['id']} for {token['user']} ({_limits(token)})",
        token["token"],
        "Use it as the password (user name __token__ or your own) with pip, uv, twine and poetry;",
        "it is shown only this once.",
    ]
    ctx.out.result(token, lines)
    return 0


def _query(args: argparse.Namespace) -> str:
    if args.user:
        return f"?user={args.user}"
    return ""


def _list(ctx: Context, args: argparse.Namespace) -> int:
    tokens = ctx.request("GET", ctx.url("+tokens" + _query(args))).result
    lines = [
        f"{t['id']:>5}  {t['kind']:<5}  {_limits(t):<32}  {t.get('description') or ''}".rstrip()
        for t in tokens
    ] or ["no tokens"]
    ctx.out.result(tokens, lines)
    return 0


def _revoke(ctx: Context, args: argparse.Namespace) -> int:
    if args.token_id <= 0:
        raise UsageError("a token ID is a positive number (see 'idx token list')")
    response = ctx.request("DELETE", ctx.url(f"+tokens/{args.token_id}{_query(args)}"))
    ctx.out.result({"revoked": args.token_id}, [response.message])
    return 0


def _limits(token: dict[str, Any]) -> str:
    parts = [f"scope {token.get('scope') or 'all'}"]
    if token.get("index"):
        parts.append(f"index {token['index']}")
    parts.append(f"expires {_when(token.get('expires'))}")
    return ", ".join(parts)


def _when(expires: float | None) -> str:
    if not expires:
        return "never"
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))


@hookimpl
def idx_client_commands() -> list[Command]:
    return [Command("token", "create, list and revoke API tokens", add_arguments, run, order=35)]
