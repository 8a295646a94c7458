"""Running tox for ``idx test``: finding tox and the tox config of an unpacked sdist, the
environment that sends every install through idx, and the temporary netrc with the login."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from idx_client.errors import ClientError

#: Where tox looks, in tox 4's order: the file and the section that makes it a tox config.
CONFIG_SOURCES: tuple[tuple[str, str], ...] = (
    ("tox.ini", ""),
    ("setup.cfg", "tox:tox"),
    ("pyproject.toml", "tool.tox"),
    ("tox.toml", ""),
)

#: Installer settings that would send installs elsewhere than idx (a config file's
#: extra index, find-links, or no index at all); they are cleared for tox.
BYPASSING_VARIABLES = (
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
)


class ToxMissing(ClientError):
    """No tox on PATH and none importable by this Python."""


def find_tox(env: Mapping[str, str]) -> list[str]:
    """The command that runs tox: ``tox`` from ``PATH``, else ``python -m tox`` with the
    Python idx runs on."""
    found = shutil.which("tox", path=env.get("PATH"))
    if found:
        return [found]
    if importlib.util.find_spec("tox") is not None:
        return [sys.executable, "-m", "tox"]
    raise ToxMissing(
        "tox is not installed: install tox 4 ('pip install tox', or 'uv tool install tox') "
        f"so that it is on PATH or importable by {sys.executable}"
    )


def find_tox_config(root: Path, given: str | None = None, cwd: Path | None = None) -> Path:
    """The tox config of the unpacked sdist in ``root``: ``given`` (a path from ``cwd`` or,
    failing that, from ``root``), or the first of tox.ini, setup.cfg with ``[tox:tox]``,
    pyproject.toml with ``[tool.tox]``, tox.toml."""
    if given:
        for candidate in (Path(cwd or Path.cwd()) / given, root / given):
            if candidate.is_file():
                return candidate.resolve()
        raise ClientError(f"tox config {given!r}: no such file here or in the sdist")
    for name, section in CONFIG_SOURCES:
        path = root / name
        if path.is_file() and _has_section(path, section):
            return path
    raise ClientError(
        f"no tox config in the sdist ({root.name}): none of tox.ini, setup.cfg [tox:tox], "
        "pyproject.toml [tool.tox], tox.toml; give one with -c"
    )


def _has_section(path: Path, section: str) -> bool:
    if not section:
        return True
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            for part in section.split("."):
                if not isinstance(data, dict) or part not in data:
                    return False
                data = data[part]
            return True
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(path.read_text(encoding="utf-8"))
        return parser.has_section(section)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return False


def sdist_root(unpacked: Path) -> Path:
    """The project directory of an unpacked sdist: its single top-level directory
    (``name-version/``), or the directory itself."""
    entries = [p for p in unpacked.iterdir() if p.name != "pax_global_header"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return unpacked


def write_netrc(directory: Path, url: str, user: str, secret: str) -> Path:
    """A netrc file (mode 0600) with ``user`` and ``secret`` for ``url``'s host, for pip
    and uv (``NETRC``): credentials in a URL would show in logs and in tox's result."""
    host = urlsplit(url).hostname or ""
    if not host or any(c.isspace() or c in "\"'#" for c in user + secret):
        raise ClientError("cannot pass this login to pip and uv in a netrc file; log in again")
    path = directory / "netrc"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"machine {host}\nlogin {user}\npassword {secret}\n")
    return path


def installer_env(base: Mapping[str, str], simple_url: str, netrc: Path | None) -> dict[str, str]:
    """``base`` with pip, uv and virtualenv pointed at ``simple_url`` and nothing else."""
    env = {key: value for key, value in base.items() if key not in BYPASSING_VARIABLES}
    env.update(PIP_INDEX_URL=simple_url, UV_INDEX_URL=simple_url, UV_DEFAULT_INDEX=simple_url)
    # Empty overrides the lists of a pip config file (environment beats config files).
    env.update(PIP_EXTRA_INDEX_URL="", PIP_FIND_LINKS="")
    if netrc is not None:
        env["NETRC"] = str(netrc)
    return env


@dataclass(frozen=True)
class ToxRun:
    """One tox invocation: test ``package`` with the envs of ``config``."""

    tox: tuple[str, ...]
    package: Path
    config: Path
    result_json: Path
    workdir: Path
    envs: str | None = None
    tox_args: str = ""

    def argv(self) -> list[str]:
        argv = [
            *self.tox,
            "--installpkg",
            str(self.package),
            "--recreate",
            "--result-json",
            str(self.result_json),
            "--workdir",
            str(self.workdir),
            "-c",
            str(self.config),
        ]
        if self.envs:
            argv += ["-e", self.envs]
        try:
            return argv + shlex.split(self.tox_args)
        except ValueError as exc:
            raise ClientError(f"--tox-args: {exc}") from None

    def run(self, env: Mapping[str, str], stdout: int | None = None) -> int:
        """Run tox in the config's directory, its output going to ours; returns its exit status."""
        return _call(self.argv(), self.config.parent, env, stdout)


def _call(argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int | None) -> int:
    try:
        return subprocess.call(list(argv), cwd=cwd, env=dict(env), stdout=stdout)
    except OSError as exc:
        raise ToxMissing(f"cannot run tox ({argv[0]}): {exc}") from None
