"""Server settings: one documented list, read from defaults, a TOML file, ``IDX_*``
environment variables and the command line, each overriding the one before.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from idx_server.model import config_values as cv
from idx_server.model.errors import InvalidInput


def default_serverdir() -> Path:
    """The platform's user data directory for idx-server (XDG on Linux)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "idx" / "server"


def _parse_path(value: Any, name: str) -> Path:
    return Path(cv.parse_str(str(value), name)).expanduser()


def _parse_url(value: Any, name: str) -> str:
    url = cv.parse_str(value, name).strip()
    if url and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"{name}: expected an http:// or https:// URL, got {url!r}")
    return url


def _parse_port(value: Any, name: str) -> int:
    port = cv.parse_int(value, name)
    if port > 65535:
        raise InvalidInput(f"{name}: a TCP port is at most 65535, got {port}")
    return port


PATH = cv.ValueKind("path", _parse_path)
URL = cv.ValueKind("url", _parse_url)
PORT = cv.ValueKind("port", _parse_port)


@dataclass(frozen=True)
class Setting:
    """One server setting: its name is also its TOML key, its ``IDX_`` variable and its flag."""

    name: str
    kind: cv.ValueKind
    default: Any
    help: str
    #: Secrets are never printed or logged.
    secret: bool = False
    #: Settings that only make sense on the command line have no env var or TOML key.
    cli_only: bool = False

    @property
    def env_var(self) -> str:
        return "IDX_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, value: Any) -> Any:
        return self.kind.parse(value, self.name)


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "serverdir",
        PATH,
        None,
        "Directory holding the database and files. "
        "Default: the user data dir, e.g. ~/.local/share/idx/server.",
    ),
    Setting("host", cv.STR, "127.0.0.1", "Address to listen on (0.0.0.0 for all IPv4 interfaces)."),
    Setting("port", PORT, 3141, "TCP port to listen on (devpi's, so client configs keep working)."),
    Setting(
        "mirror_url",
        URL,
        "https://pypi.org/simple/",
        "Upstream of root/pypi. Given on a later start, it updates root/pypi's mirror_url.",
    ),
    Setting(
        "threads",
        cv.INT,
        64,
        "Worker threads serving requests (file downloads from upstream hold one "
        "each while they stream; uv asks for about 50 files at once).",
    ),
    Setting("connection_limit", cv.INT, 500, "Most client connections open at once."),
    Setting(
        "pin_cpu",
        cv.BOOL,
        True,
        "Run the server's threads on one CPU (Linux): CPython runs one thread at a time, "
        "and handing its lock between threads on different CPUs costs more than it gains.",
    ),
    Setting(
        "batch_threads",
        cv.BOOL,
        True,
        "Run the request threads under Linux's SCHED_BATCH policy (the main thread, which "
        "accepts connections and reads requests, keeps the normal one): a woken request thread "
        "waits for the running one to block instead of preempting it only to wait for the "
        "interpreter lock, so each request costs fewer context switches.",
    ),
    Setting(
        "outside_url",
        URL,
        "",
        "The URL clients reach the server at, when behind a proxy "
        "(also taken per request from an X-Outside-Url header).",
    ),
    Setting(
        "root_password",
        cv.STR,
        "",
        "Password for 'root' on the first start. Default: a random one, printed once.",
        secret=True,
    ),
    Setting(
        "allow_registration", cv.BOOL, False, "Let anyone create a user account (by default only root can)."
    ),
    Setting("max_upload_size", cv.SIZE, 1024**3, "Largest upload accepted, e.g. 1G or 500M."),
    Setting("login_expiry", cv.DURATION, 36000, "How long a login token from /+login is valid."),
    Setting("offline", cv.BOOL, False, "Never contact any upstream; serve only what is cached."),
    Setting("upstream_connect_timeout", cv.DURATION, 10, "Seconds to wait for an upstream connection."),
    Setting("upstream_read_timeout", cv.DURATION, 30, "Seconds to wait for upstream data."),
    Setting(
        "upstream_retries", cv.INT, 2, "Extra attempts for failed idempotent upstream GETs, with backoff."
    ),
    Setting(
        "upstream_stale_timeout",
        cv.DURATION,
        3,
        "Seconds a cached mirror page due for revalidation waits for upstream before it is "
        "served as it is (the revalidation goes on in the background); 0 waits as long as "
        "the other timeouts allow.",
    ),
    Setting(
        "trusted_proxies",
        cv.NETWORK_LIST,
        (),
        "Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
        "names the client: the login throttle then counts failures per client.",
    ),
    Setting("storage", cv.STR, "sqlite", "Storage backend (plugins can add more)."),
    Setting(
        "log_level",
        cv.ValueKind("choice", cv.choice("debug", "info", "warning", "error")),
        "info",
        "Logging level.",
    ),
    Setting(
        "x_accel_redirect",
        cv.STR,
        "",
        "When set (e.g. /+blobs/), cached files are sent by "
        "an nginx front end: idx answers with X-Accel-Redirect to this prefix + the blob path, "
        "and answers nginx's file check (X-Idx-File-Check).",
    ),
    Setting("config", PATH, None, "A TOML file of settings.", cli_only=True),
)


@dataclass(frozen=True)
class Settings:
    """The effective settings of one server."""

    serverdir: Path = field(default_factory=default_serverdir)
    host: str = "127.0.0.1"
    port: int = 3141
    mirror_url: str = "https://pypi.org/simple/"
    threads: int = 64
    connection_limit: int = 500
    pin_cpu: bool = True
    batch_threads: bool = True
    outside_url: str = ""
    root_password: str = ""
    allow_registration: bool = False
    max_upload_size: int = 1024**3
    login_expiry: int = 36000
    offline: bool = False
    upstream_connect_timeout: int = 10
    upstream_read_timeout: int = 30
    upstream_retries: int = 2
    upstream_stale_timeout: int = 3
    trusted_proxies: Sequence[str] = ()
    storage: str = "sqlite"
    log_level: str = "info"
    x_accel_redirect: str = ""
    config: Path | None = None
    #: Settings that plugins added, by name.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Which settings were given explicitly (not defaults), e.g. to tell whether
    #: mirror_url should update root/pypi.
    explicit: frozenset[str] = frozenset()

    def get(self, name: str) -> Any:
        """A setting's value by name: a core one or one a plugin added (``idx_add_settings``)."""
        if name in self.extra:
            return self.extra[name]
        if name in _CORE_FIELDS:
            return getattr(self, name)
        raise KeyError(f"no setting {name!r}: is the plugin that adds it (idx_add_settings) registered?")

    def public_items(self) -> list[tuple[str, Any]]:
        """Settings that may be shown (secrets left out)."""
        secret = {s.name for s in CORE_SETTINGS if s.secret}
        items = [(f.name, getattr(self, f.name)) for f in fields(self) if f.name not in {"extra", "explicit"}]
        items += list(self.extra.items())
        return [(name, value) for name, value in items if name not in secret]


_CORE_FIELDS = frozenset(f.name for f in fields(Settings)) - {"extra", "explicit"}


def load_settings(
    cli_values: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    extra_settings: Iterable[Setting] = (),
) -> Settings:
    """Settings from defaults < TOML file < ``IDX_*`` environment < command line.

    ``cli_values`` holds only options given on the command line (unparsed strings or values).
    """
    environ = os.environ if environ is None else environ
    cli_values = dict(cli_values or {})
    all_settings = {s.name: s for s in (*CORE_SETTINGS, *extra_settings)}
    values: dict[str, Any] = {}
    explicit: set[str] = set()

    config_path = cli_values.get("config") or environ.get("IDX_CONFIG")
    if config_path:
        path = Path(str(config_path)).expanduser()
        for name, value in _read_toml(path, all_settings).items():
            values[name] = all_settings[name].parse(value)
            explicit.add(name)
        values["config"] = path

    for name, setting in all_settings.items():
        if setting.cli_only:
            continue
        raw = environ.get(setting.env_var)
        if raw is not None and raw != "":
            values[name] = setting.parse(raw)
            explicit.add(name)

    for name, raw in cli_values.items():
        if raw is None or name == "config":
            continue
        values[name] = all_settings[name].parse(raw)
        explicit.add(name)

    core_names = {f.name for f in fields(Settings)}
    core = {name: value for name, value in values.items() if name in core_names}
    extra = {
        name: values.get(name, setting.default)
        for name, setting in all_settings.items()
        if name not in core_names
    }
    if core.get("serverdir") is None:
        core.pop("serverdir", None)
    return Settings(**core, extra=extra, explicit=frozenset(explicit))


def _read_toml(path: Path, known: Mapping[str, Setting]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidInput(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from None
    # Allow either top-level keys or an [idx-server] table.
    table = data.get("idx-server", data)
    unknown = sorted(key for key in table if key not in known or known[key].cli_only)
    if unknown:
        raise InvalidInput(
            f"config file {path}: unknown setting{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; see docs/configuration.md for the list"
        )
    return dict(table)
