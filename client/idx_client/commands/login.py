"""``idx login USER`` and ``idx logout``: get a token from ``POST /+login``, forget it."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from idx_client import hookimpl
from idx_client.commands import Command
from idx_client.context import Context, Login
from idx_client.errors import ClientError, ConnectionFailed
from idx_client.http import ServerError


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", metavar="USER")
    parser.add_argument(
        "--password",
        metavar="PASSWORD",
        help="the password (default: ask plugins, e.g. a keyring, then the terminal)",
    )


def run_login(ctx: Context, args: argparse.Namespace) -> int:
    server = ctx.require_server()
    user: str = args.user
    password = args.password
    if password is None:
        password = ctx.hook.idx_client_get_password(url=server, username=user)
    if password is None:
        raise ClientError(f"no password for {user}: pass --password, or run 'idx login' in a terminal")
    try:
        response = ctx.request(
            "POST", ctx.state.login_url or ctx.url("+login"), {"user": user, "password": password}
        )
    except ServerError as exc:
        raise ClientError(f"login of {user} at {server} failed: {exc.response.message}") from None
    result = response.result or {}
    token, expiration = result.get("password"), result.get("expiration")
    if not isinstance(token, str) or not token:
        raise ClientError(f"{server} answered the login without a token; is it an idx or devpi server?")
    seconds = float(expiration) if isinstance(expiration, int | float) else 0.0
    ctx.store.save_login(Login(server, user, token, time.time() + seconds if seconds else 0.0))
    valid = f", valid for {seconds / 3600:.1f} hours" if seconds else ""
    ctx.out.line(f"logged in as {user} at {server}{valid}")
    return 0


def run_logout(ctx: Context, args: argparse.Namespace) -> int:
    server = ctx.require_server()
    login = ctx.login
    if login is None:
        ctx.out.line(f"not logged in at {server}")
        return 0
    note = ""
    try:
        ctx.request("POST", ctx.url("+logout"), check=False)
    except ConnectionFailed as exc:
        note = f" (the server was not told: {exc})"
    ctx.store.forget_login(server)
    ctx.out.line(f"logged out {login.user} from {server}{note}")
    return 0


@hookimpl(trylast=True)
def idx_client_get_password(url: str, username: str) -> str | None:
    """The last resort: ask on the terminal (None when there is none)."""
    if not sys.stdin.isatty():
        return None
    try:
        return getpass.getpass(f"password for {username} at {url}: ")
    except EOFError:
        return None


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "login", "log in to the current server (stores a token)", add_login_arguments, run_login, order=20
        ),
        Command(
            "logout",
            "forget the login to the current server (and revoke its token)",
            lambda parser: None,
            run_logout,
            aliases=("logoff",),
            order=21,
        ),
    ]
