"""``idx use``: choose the server and index, show them, write installers' config."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from idx_client import hookimpl
from idx_client.commands import Command, add_json_flag
from idx_client.config_files import (
    ConfigChange,
    pip_config_text,
    pypirc_text,
    read_config,
    uv_config_text,
    write_config,
)
from idx_client.context import ClientState, Context
from idx_client.errors import ClientError, UsageError
from idx_client.paths import home, pip_user_config, uv_user_config, venv_config

DESCRIPTION = """\
Choose the server and index the other commands work with, and show them.

  idx use http://localhost:3141            a server
  idx use http://localhost:3141/alice/dev  a server and an index
  idx use alice/dev                        an index on the current server
  idx use dev                              an index of the logged-in user
  idx use                                  show server, index, login and URLs
  idx use --set-cfg                        make pip, uv and twine use the current index
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", nargs="?", metavar="URL | USER/INDEX", help="server URL, index URL or index name"
    )
    parser.add_argument("-l", "--list", action="store_true", help="list the server's indexes")
    parser.add_argument(
        "--set-cfg",
        action="store_true",
        help="write pip's config (index-url), uv's uv.toml (a default [[index]]) and ~/.pypirc "
        "(an [idx] repository) for the current index; changed files are backed up",
    )
    parser.add_argument(
        "--venv",
        metavar="DIR",
        type=Path,
        help="with --set-cfg: write DIR/pip.conf and DIR/uv.toml instead of the user's files",
    )
    add_json_flag(parser)


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.venv is not None and not args.set_cfg:
        raise UsageError("--venv only goes with --set-cfg")
    if args.target:
        connect(ctx, args.target)
    if args.list:
        list_indexes(ctx)
        return 0
    changes = set_config(ctx, args.venv) if args.set_cfg else []
    show_state(ctx, changes)
    return 0


# -- choosing ----------------------------------------------------------------------------------
def target_url(ctx: Context, target: str) -> str:
    """The URL meant by ``target``: as given if absolute, else an index on the current server."""
    if "://" in target:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"not an http(s) URL: {target!r}")
        return target.rstrip("/") + "/"
    return ctx.index_url(target)


def connect(ctx: Context, target: str) -> ClientState:
    """Ask ``target``'s ``+api`` what it is and make it the current server (and index)."""
    url = target_url(ctx, target)
    result = ctx.get_json(url + "+api").result
    if not isinstance(result, dict) or not isinstance(result.get("login"), str):
        raise ClientError(f"{url} did not answer like an idx or devpi server (no login URL in +api)")
    login_url = result["login"]
    root = login_url[: -len("+login")] if login_url.endswith("/+login") else url
    index_url = result.get("index") or ""
    index = ""
    if index_url:
        index = index_url[len(root) :].strip("/") if index_url.startswith(root) else _index_path(index_url)
    elif urlsplit(url).path.rstrip("/") != urlsplit(root).path.rstrip("/"):
        raise ClientError(f"{url} is not an index: give a server URL or URL/USER/INDEX")
    state = ClientState(
        server=root,
        index=index,
        login_url=login_url,
        simpleindex=result.get("simpleindex") or "",
        pypisubmit=result.get("pypisubmit") or "",
        features=tuple(result.get("features") or ()),
    )
    ctx.set_state(state)
    return state


def _index_path(url: str) -> str:
    return "/".join(urlsplit(url).path.strip("/").split("/")[-2:])


def list_indexes(ctx: Context) -> None:
    users = ctx.get_json(ctx.require_server()).result or {}
    rows = []
    for user in sorted(users):
        for name, config in sorted((users[user].get("indexes") or {}).items()):
            rows.append({"index": f"{user}/{name}", **config})
    lines = []
    for row in rows:
        mark = "*" if row["index"] == ctx.state.index else " "
        details = f"type={row.get('type', '')}"
        if row.get("bases"):
            details += f" bases={','.join(row['bases'])}"
        details += f" volatile={row.get('volatile')}"
        lines.append(f"{mark} {row['index']:<24} {details}")
    ctx.out.result(rows, lines or ["no indexes on this server"])


# -- showing -----------------------------------------------------------------------------------
def login_status(ctx: Context) -> tuple[str | None, str]:
    """(user or None, words for a person), checked with the server when logged in."""
    login = ctx.login
    if login is None:
        return None, "not logged in"
    if login.expired():
        return None, f"login of {login.user} expired: run 'idx login {login.user}'"
    try:
        response = ctx.request("GET", ctx.url("+api"), check=False)
        status = (response.result or {}).get("authstatus") if response.ok else None
    except ClientError as exc:
        return login.user, f"{login.user} (not checked: {exc})"
    if status and status[0] != "ok":
        return None, f"login of {login.user} is no longer valid: run 'idx login {login.user}'"
    left = f", for {(login.expires - time.time()) / 3600:.1f} more hours" if login.expires else ""
    return login.user, f"{login.user}{left}"


def show_state(ctx: Context, changes: list[ConfigChange]) -> None:
    state = ctx.state
    if not state.server:
        ctx.out.result({"server": None}, ["no server in use: run 'idx use URL'"])
        return
    user, status = login_status(ctx)
    simple = simple_url(ctx) if state.index else ""
    data: dict[str, Any] = {
        "server": state.server,
        "index": state.index or None,
        "user": user,
        "login": status,
        "simple_url": simple or None,
        "upload_url": state.pypisubmit or None,
        "features": list(state.features),
        "config_files": [
            {
                "tool": c.tool,
                "path": str(c.path),
                "written": c.summary,
                "changed": c.changed,
                "backup": str(c.backup) if c.backup else None,
            }
            for c in changes
        ],
    }
    lines = [f"server:     {state.server}"]
    if state.index:
        upload = state.pypisubmit or f"none ({state.index} does not take uploads)"
        lines += [
            f"index:      {state.index}",
            f"logged in:  {status}",
            f"simple URL: {simple}",
            f"upload URL: {upload}",
        ]
    else:
        lines += [
            "index:      none: run 'idx use USER/INDEX' ('idx use -l' lists them)",
            f"logged in:  {status}",
        ]
    for change in changes:
        if change.changed:
            backup = f" (old file kept as {change.backup})" if change.backup else ""
            lines.append(f"{change.tool}: wrote {change.summary} to {change.path}{backup}")
        else:
            lines.append(f"{change.tool}: {change.path} already has {change.summary}")
    ctx.out.result(data, lines)


def simple_url(ctx: Context) -> str:
    return ctx.state.simpleindex or ctx.index_url() + "+simple/"


# -- --set-cfg ---------------------------------------------------------------------------------
def set_config(ctx: Context, venv: Path | None) -> list[ConfigChange]:
    """Point pip, uv and twine at the current index (``venv``: that venv's pip and uv only)."""
    ctx.require_index()
    if venv is not None and not venv.is_dir():
        raise UsageError(f"--venv {venv}: no such directory")
    simple = simple_url(ctx)
    changes = [_write_pip(ctx, venv, simple), _write_uv(ctx, venv, simple)]
    if venv is None:
        if ctx.state.pypisubmit:
            changes.append(_write_pypirc(ctx))
        else:
            ctx.out.warn(f"~/.pypirc not written: {ctx.state.index} does not take uploads")
    return changes


def _write_pip(ctx: Context, venv: Path | None, simple: str) -> ConfigChange:
    env = ctx.env
    given = env.get("PIP_CONFIG_FILE")
    if venv is not None:
        path = venv_config(venv, "pip")
    elif given and given != os.devnull:
        path = Path(given).expanduser()
    else:
        path = pip_user_config(env)
        if given == os.devnull:
            ctx.out.warn("PIP_CONFIG_FILE is set to /dev/null here: pip reads no config files while it is")
    if env.get("PIP_INDEX_URL"):
        ctx.out.warn("PIP_INDEX_URL is set here and wins over pip's config files")
    host = urlsplit(simple).hostname or ""
    trusted = (
        host if urlsplit(simple).scheme == "http" and host not in ("localhost", "127.0.0.1", "::1") else None
    )
    text = pip_config_text(read_config(path), simple, trusted, path)
    summary = f"index-url = {simple}" + (f", trusted-host = {trusted}" if trusted else "")
    return write_config("pip", path, text, summary)


def _write_uv(ctx: Context, venv: Path | None, simple: str) -> ConfigChange:
    env = ctx.env
    if venv is not None:
        path = venv_config(venv, "uv")
    elif env.get("UV_CONFIG_FILE"):
        path = Path(env["UV_CONFIG_FILE"]).expanduser()
    else:
        path = uv_user_config(env)
    if env.get("UV_NO_CONFIG"):
        ctx.out.warn("UV_NO_CONFIG is set here: uv reads no uv.toml while it is")
    upload = ctx.state.pypisubmit or None
    text = uv_config_text(read_config(path), simple, upload, path)
    summary = f'[[index]] name = "idx", url = {simple}, default = true'
    return write_config("uv", path, text, summary)


def _write_pypirc(ctx: Context) -> ConfigChange:
    path = home(ctx.env) / ".pypirc"
    user = ctx.current_user()
    text = pypirc_text(read_config(path), ctx.state.pypisubmit, user, path)
    summary = f"[idx] repository = {ctx.state.pypisubmit}" + (f", username = {user}" if user else "")
    return write_config("twine", path, text, summary)


@hookimpl
def idx_client_commands() -> list[Command]:
    return [
        Command(
            "use",
            "choose and show the server and index; --set-cfg configures pip, uv and twine",
            add_arguments,
            run,
            DESCRIPTION,
            order=10,
        )
    ]
