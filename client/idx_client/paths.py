"""Where configuration lives on this platform (the rules of platformdirs, pip and uv)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())


def user_config_root(env: Mapping[str, str]) -> Path:
    """The user's config directory: $XDG_CONFIG_HOME (~/.config), %APPDATA%, or macOS's."""
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or home(env) / "AppData" / "Roaming")
    if sys.platform == "darwin":
        return home(env) / "Library" / "Application Support"
    return Path(env.get("XDG_CONFIG_HOME") or home(env) / ".config")


def default_clientdir(env: Mapping[str, str] | None = None) -> Path:
    """The client's state directory: ``IDX_CLIENTDIR`` or the user config dir's ``idx``."""
    env = os.environ if env is None else env
    given = env.get("IDX_CLIENTDIR")
    if given:
        return Path(given).expanduser()
    return user_config_root(env) / "idx"


def pip_user_config(env: Mapping[str, str]) -> Path:
    """pip's per-user config file (what ``pip config --user`` edits)."""
    name = "pip.ini" if sys.platform == "win32" else "pip.conf"
    if sys.platform == "darwin":
        native = user_config_root(env) / "pip"
        linux_like = home(env) / ".config" / "pip"
        if linux_like.is_dir() and not native.is_dir():
            return linux_like / name
        return native / name
    return user_config_root(env) / "pip" / name


def uv_user_config(env: Mapping[str, str]) -> Path:
    """uv's per-user ``uv.toml`` ($XDG_CONFIG_HOME/uv, ~/.config/uv, %APPDATA%\\uv)."""
    if sys.platform == "win32":
        return user_config_root(env) / "uv" / "uv.toml"
    return Path(env.get("XDG_CONFIG_HOME") or home(env) / ".config") / "uv" / "uv.toml"


def venv_config(venv: Path, tool: str) -> Path:
    """A virtualenv's own config file for ``tool`` ("pip" or "uv")."""
    if tool == "pip":
        return venv / ("pip.ini" if sys.platform == "win32" else "pip.conf")
    return venv / "uv.toml"
