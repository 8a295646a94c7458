"""``idx user``: create, modify, delete, list and show users."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from idx_client import hookimpl
from idx_client.commands import Command, add_json_flag, add_yes_flag
from idx_client.context import Context
from idx_client.errors import ClientError, UsageError
from idx_client.specs import key_value_dict, parse_key_values

DESCRIPTION = """\
Manage users. Keys: password, email, title, description.

  idx user -c alice password=secret email=alice@example.com
  idx user -m alice email=alice@example.org
  idx user --delete alice
  idx user -l
  idx user [NAME]          show a user (default: the logged-in one)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-c", "--create", action="store_true", help="create user NAME")
    action.add_argument("-m", "--modify", action="store_true", help="change user NAME's keys")
    action.add_argument("--delete", action="store_true", help="delete user NAME")
    action.add_argument("-l", "--list", action="store_true", help="list the users")
    parser.add_argument("name", nargs="?", metavar="NAME")
    parser.add_argument("keyvalues", nargs="*", metavar="key=value")
    add_yes_flag(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.list:
        return list_users(ctx)
    name = args.name or ctx.current_user()
    if not name:
        raise UsageError("give a user NAME (or log in to mean yourself)")
    values = key_value_dict(parse_key_values(args.keyvalues))
    if args.create:
        return create_user(ctx, args.name or "", values)
    if args.delete:
        ctx.out.confirm(f"delete user {name} and all their indexes from {ctx.require_server()}?", args.yes)
        response = ctx.request("DELETE", ctx.user_url(name))
        ctx.out.result({"deleted": name}, [response.message if response.is_json else f"user {name} deleted"])
        return 0
    if args.modify or values:
        if not values:
            raise UsageError("give the changes as key=value")
        response = ctx.request("PATCH", ctx.user_url(name), values)
        shown = ", ".join(f"{k}={'********' if k == 'password' else v}" for k, v in values.items())
        ctx.out.result(response.result, [f"user {name} modified: {shown}"])
        return 0
    return show_user(ctx, name)


def create_user(ctx: Context, name: str, values: dict[str, Any]) -> int:
    if not name:
        raise UsageError("give the NAME of the user to create")
    if "password" not in values:
        values["password"] = ask_new_password(name)
    ctx.require_server()
    response = ctx.request("PUT", ctx.user_url(name), values)
    ctx.out.result(response.result, [f"user {name} created at {ctx.state.server}"])
    return 0


def ask_new_password(name: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(f"give user {name}'s password as password=... (there is no terminal to ask)")
    for _ in range(3):
        first = getpass.getpass(f"new password for {name}: ")
        if first and first == getpass.getpass(f"repeat the new password for {name}: "):
            return first
        print("the passwords were empty or did not match", file=sys.stderr)
    raise ClientError(f"no password for {name}: not creating the user")


def list_users(ctx: Context) -> int:
    users = ctx.get_json(ctx.require_server()).result or {}
    ctx.out.result(users, sorted(users) or ["no users"])
    return 0


def show_user(ctx: Context, name: str) -> int:
    url = ctx.user_url(name)
    config = ctx.get_json(url).result or {}
    lines = [f"{url}:"]
    for key, value in sorted(config.items()):
        if key in ("username", "indexes"):
            continue
        lines.append(f"  {key}={value}")
    indexes = sorted(config.get("indexes") or {})
    lines.append(f"  indexes={','.join(f'{name}/{ix}' for ix in indexes)}")
    ctx.out.result(config, lines)
    return 0


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "user", "create, modify, delete, list and show users", add_arguments, run, DESCRIPTION, order=30
        )
    ]
