"""Entry point of the ``idx`` command: builds the parser from the commands the plugins
give, runs one, and turns expected errors into one line and an exit status (0 ok,
1 error, 2 usage error)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pluggy

from idx_client import __version__
from idx_client.commands import Command
from idx_client.context import Context, StateStore
from idx_client.errors import ClientError
from idx_client.http import HttpClient, Transport
from idx_client.output import Output
from idx_client.paths import default_clientdir
from idx_client.plugins import get_plugin_manager

DESCRIPTION = (
    "Client for the idx package index (devpi-client's commands): choose a server and "
    "index with 'idx use', log in, manage users and indexes, upload, list, push, yank."
)


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options valid before and after the command name (``idx --clientdir D list``
    and ``idx list --clientdir D``)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--clientdir",
        metavar="DIR",
        default=default,
        help="where the client keeps its state (default: $IDX_CLIENTDIR, else the user config dir's idx/)",
    )


def collect_commands(pm: pluggy.PluginManager) -> list[Command]:
    commands: dict[str, Command] = {}
    for found in pm.hook.idx_client_commands():
        for command in found or ():
            commands.setdefault(command.name, command)
    return sorted(commands.values(), key=lambda c: (c.order, c.name))


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idx", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"idx-client {__version__}")
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in commands:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            aliases=list(command.aliases),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(child, suppress=True)
        command.add_arguments(child)
        child.set_defaults(_command=command)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
    pm: pluggy.PluginManager | None = None,
) -> int:
    env = dict(os.environ if env is None else env)
    try:
        pm = pm or get_plugin_manager(env=env)
        parser = build_parser(collect_commands(pm))
    except ClientError as exc:
        Output().error(str(exc))
        return exc.exit_code
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    out = Output(json_mode=bool(getattr(args, "json", False)))
    clientdir = Path(args.clientdir).expanduser() if args.clientdir else default_clientdir(env)
    http = HttpClient()
    try:
        context = Context(StateStore(clientdir), out, transport or http, pm, env)
        return command.run(context, args)
    except ClientError as exc:
        out.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted")
        return 1
    except BrokenPipeError:
        # The reader went away (``idx getjson / | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        http.close()


if __name__ == "__main__":
    sys.exit(main())
