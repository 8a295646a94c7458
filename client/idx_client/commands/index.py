"""``idx index``: create, modify, delete, list and show indexes."""

from __future__ import annotations

import argparse
from typing import Any

from idx_client import hookimpl
from idx_client.commands import Command, add_json_flag, add_yes_flag
from idx_client.context import Context
from idx_client.errors import UsageError
from idx_client.specs import key_value_dict, parse_key_values

DESCRIPTION = """\
Manage indexes. Keys include bases, volatile, acl_upload, acl_toxresult_upload,
mirror_whitelist, title, description (and type=mirror, mirror_url for mirrors).

  idx index -c dev bases=root/pypi
  idx index -c release volatile=False acl_upload=alice,bob
  idx index dev bases+=alice/other acl_upload-=bob     modify
  idx index --delete dev
  idx index -l [USER]
  idx index [NAME]                                     show (default: the current index)
"""

KEY_ORDER = ("type", "bases", "volatile", "acl_upload")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-c", "--create", action="store_true", help="create index NAME")
    action.add_argument("--delete", action="store_true", help="delete index NAME")
    action.add_argument("-l", "--list", action="store_true", help="list USER's indexes (default: yours)")
    parser.add_argument("name", nargs="?", metavar="NAME", help="USER/INDEX, or INDEX of the logged-in user")
    parser.add_argument("keyvalues", nargs="*", metavar="key=value")
    add_yes_flag(parser)
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    name: str | None = args.name
    keyvalues: list[str] = list(args.keyvalues)
    if name and "=" in name:  # ``idx index key=value``: the current index
        keyvalues.insert(0, name)
        name = None
    if args.list:
        return list_indexes(ctx, name)
    if (args.create or args.delete) and not name:
        raise UsageError(f"give the NAME of the index to {'create' if args.create else 'delete'}")
    full_name = ctx.index_name(name)
    url = ctx.url(full_name)
    if args.delete:
        if keyvalues:
            raise UsageError("--delete takes no key=value")
        ctx.out.confirm(f"delete index {full_name} and everything on it?", args.yes)
        response = ctx.request("DELETE", url)
        ctx.out.result({"deleted": full_name}, [response.message])
        return 0
    if args.create:
        values = key_value_dict(parse_key_values(keyvalues))
        response = ctx.request("PUT", url, values)
        show(ctx, full_name, response.result, f"index {full_name} created:")
        return 0
    if keyvalues:
        operations = [str(kv) for kv in parse_key_values(keyvalues, allow_list_ops=True)]
        response = ctx.request("PATCH", url, operations)
        show(ctx, full_name, response.result, f"index {full_name} modified:")
        return 0
    config = ctx.get_json(url + "?no_projects").result
    show(ctx, full_name, config, f"{ctx.url(full_name)}/:")
    return 0


def show(ctx: Context, full_name: str, config: Any, title: str) -> None:
    config = dict(config or {})
    config.pop("projects", None)
    keys = [k for k in KEY_ORDER if k in config] + sorted(k for k in config if k not in KEY_ORDER)
    lines = [title]
    for key in keys:
        value = config[key]
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        lines.append(f"  {key}={value}")
    ctx.out.result({"index": full_name, **config}, lines)


def list_indexes(ctx: Context, user: str | None) -> int:
    user = user or ctx.current_user()
    if not user:
        raise UsageError("give a USER (or log in to list your own indexes)")
    config = ctx.get_json(ctx.user_url(user)).result or {}
    names = [f"{user}/{name}" for name in sorted(config.get("indexes") or {})]
    ctx.out.result(names, names or [f"user {user} has no indexes"])
    return 0


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "index",
            "create, modify, delete, list and show indexes",
            add_arguments,
            run,
            DESCRIPTION,
            order=40,
        )
    ]
