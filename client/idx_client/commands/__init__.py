"""The sub-commands. Each module is a plugin: its ``idx_client_commands`` hook returns
its :class:`Command` (so installed plugins add commands the same way)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from idx_client.context import Context


@dataclass(frozen=True)
class Command:
    """One ``idx NAME`` sub-command."""

    name: str
    #: One line for ``idx --help``.
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    #: Runs the command; returns the exit status. Expected failures raise ClientError.
    run: Callable[[Context, argparse.Namespace], int]
    #: Longer text for ``idx NAME --help`` (defaults to ``help``).
    description: str = ""
    aliases: tuple[str, ...] = ()
    #: Position in ``idx --help`` (lower first).
    order: int = 100


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        metavar="INDEX",
        help="work on this index (USER/INDEX, or INDEX of the logged-in user) instead of the current one",
    )


def add_yes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
