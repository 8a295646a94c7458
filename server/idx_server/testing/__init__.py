"""A pytest plugin for testing idx and its plugins (registered as ``pytest11``).

Fixtures:

``idx_pm``
    The plugin manager: idx's built-in plugins plus ``idx_plugins`` (installed
    entry-point plugins are *not* loaded in process, so tests choose what runs).
``idx_settings``
    :class:`~idx_server.settings.Settings` for a fresh server in a temp dir
    (root's password is ``root``; ``root/pypi`` points at an unreachable upstream),
    with the defaults of the settings that ``idx_plugins`` add.
``idx_core``
    The storage and services built from ``idx_settings`` (initialised).
``testapp``
    A :class:`webtest.TestApp` around the WSGI application, in process.
``mapp``
    A :class:`Mapp`: a small DSL over ``testapp`` (create users and indexes, upload
    generated distributions, read simple pages).
``live_server``
    A real ``idx-server`` process on a free port (a :class:`LiveServer`).

Override ``idx_plugins`` (a tuple of plugin objects to register) or
``idx_settings_overrides`` (a dict of core or plugin settings) in your conftest to
change what is built.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pluggy
import pytest

from idx_server.app import Core, build_core, initialize, make_app
from idx_server.plugins import get_plugin_manager
from idx_server.settings import Setting, Settings
from idx_server.testing.dists import Dist, Project, make_sdist, make_wheel

ROOT_PASSWORD = "root"
#: Nothing listens here: a mirror pointed at it fails fast instead of reaching the network.
UNREACHABLE_UPSTREAM = "http://127.0.0.1:9/simple/"

__all__ = ["ROOT_PASSWORD", "Dist", "LiveServer", "Mapp", "Project", "make_sdist", "make_wheel"]


@pytest.fixture
def idx_plugins() -> tuple[object, ...]:
    """Extra plugin objects to register in the in-process server (override to add yours)."""
    return ()


@pytest.fixture
def idx_settings_overrides() -> dict[str, Any]:
    """Settings to change for the in-process server (override in a conftest)."""
    return {}


@pytest.fixture
def idx_pm(idx_plugins: tuple[object, ...]) -> pluggy.PluginManager:
    """idx's built-in plugins and ``idx_plugins`` (no entry points)."""
    return get_plugin_manager(load_entrypoints=False, extra_plugins=idx_plugins)


@pytest.fixture
def idx_settings(
    tmp_path: Path, idx_settings_overrides: dict[str, Any], idx_pm: pluggy.PluginManager
) -> Settings:
    settings = Settings(
        serverdir=tmp_path / "server",
        root_password=ROOT_PASSWORD,
        mirror_url=UNREACHABLE_UPSTREAM,
        upstream_connect_timeout=2,
        upstream_read_timeout=5,
        upstream_retries=0,
    )
    plugin_settings = [s for found in idx_pm.hook.idx_add_settings() for s in found or []]
    return with_overrides(settings, plugin_settings, idx_settings_overrides)


def with_overrides(
    settings: Settings, plugin_settings: list[Setting], overrides: Mapping[str, Any]
) -> Settings:
    """``settings`` with plugins' settings at their defaults, then ``overrides`` applied
    (plugin settings are parsed as from the environment, so ``"2s"`` works)."""
    core_names = {f.name for f in fields(Settings)} - {"extra", "explicit"}
    by_name = {s.name: s for s in plugin_settings}
    extra = {**{s.name: s.default for s in plugin_settings}, **settings.extra}
    core = {}
    for name, value in overrides.items():
        if name in core_names:
            core[name] = value
        elif name in by_name:
            extra[name] = by_name[name].parse(value)
        else:
            raise KeyError(f"idx_settings_overrides: no setting {name!r} (not core, not from idx_plugins)")
    return replace(settings, **core, extra=extra)


@pytest.fixture
def idx_core(idx_settings: Settings, idx_pm: pluggy.PluginManager) -> Iterator[Core]:
    core = build_core(idx_settings, idx_pm)
    initialize(core)
    yield core
    core.close()


def settled_testapp(core: Core) -> Any:
    """webtest's TestApp on ``core``, whose requests return once the mirror stored what
    they fetched: a first download's file is stored on a thread of its own after its
    last byte went out, and a test's next step should see it cached, as a client a
    moment later does."""
    import webtest

    from idx_server.mirror.service import MirrorService

    downloads = core.service(MirrorService).downloads

    class SettledTestApp(webtest.TestApp):  # type: ignore[misc]  # (webtest has no types)
        def do_request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().do_request(*args, **kwargs)
            downloads.wait_stored(10)
            return response

    return SettledTestApp(make_app(core))


@pytest.fixture
def testapp(idx_core: Core) -> Any:
    return settled_testapp(idx_core)


@pytest.fixture
def mapp(testapp: Any, idx_core: Core) -> Mapp:
    return Mapp(testapp, idx_core)


def basic_auth(user: str, password: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Mapp:
    """A model of a user driving the server (devpi's test DSL), in process."""

    def __init__(self, testapp: Any, core: Core | None = None) -> None:
        self.app = testapp
        self.core = core
        self.headers: dict[str, str] = {}
        self.user: str | None = None

    # -- auth ------------------------------------------------------------------------------
    def login(self, user: str, password: str) -> None:
        """Log in with a token from /+login; later requests carry it as X-Devpi-Auth."""
        import base64

        response = self.app.post_json("/+login", {"user": user, "password": password})
        token = response.json["result"]["password"]
        self.headers = {"X-Devpi-Auth": base64.b64encode(f"{user}:{token}".encode()).decode()}
        self.user = user

    def login_root(self) -> None:
        self.login("root", ROOT_PASSWORD)

    def use_basic_auth(self, user: str, password: str) -> None:
        self.headers = basic_auth(user, password)
        self.user = user

    def logout(self) -> None:
        self.headers = {}
        self.user = None

    # -- users and indexes -----------------------------------------------------------------
    def create_user(self, name: str, password: str = "secret", status: int = 201, **fields: Any) -> Any:
        return self.app.put_json(
            f"/{name}", {"password": password, **fields}, headers=self.headers, status=status
        )

    def create_and_login_user(self, name: str, password: str = "secret") -> None:
        self.login_root()
        self.create_user(name, password)
        self.login(name, password)

    def create_index(self, name: str, status: int = 201, **config: Any) -> Any:
        """Create ``user/index`` (or ``index`` for the logged-in user) with ``config``."""
        if "/" not in name:
            name = f"{self.user}/{name}"
        return self.app.put_json(f"/{name}", config, headers=self.headers, status=status)

    def modify_index(self, name: str, changes: Any, status: int = 200) -> Any:
        """PATCH ``user/index`` with a dict of keys or a list of ``key=value`` operations."""
        return self.app.patch_json(f"/{name}", changes, headers=self.headers, status=status)

    def get_index(self, name: str, status: int = 200) -> Any:
        """The index's configuration as the JSON API shows it (``result``)."""
        return self.get_json(f"/{name}", status=status).json.get("result")

    # -- releases --------------------------------------------------------------------------
    def yank(self, index: str, project: str, version: str, reason: str = "", status: int = 200) -> Any:
        return self.app.post_json(
            f"/{index}/{project}/{version}/+yank", {"reason": reason}, headers=self.headers, status=status
        )

    def unyank(self, index: str, project: str, version: str, status: int = 200) -> Any:
        return self.app.post(f"/{index}/{project}/{version}/+unyank", headers=self.headers, status=status)

    def delete_release(self, index: str, project: str, version: str, status: int = 200) -> Any:
        return self.app.delete(f"/{index}/{project}/{version}", headers=self.headers, status=status)

    def push(self, source: str, project: str, version: str, target: str, status: int = 200) -> Any:
        body = {"name": project, "version": version, "targetindex": target}
        return self.app.post_json(f"/{source}/", body, headers=self.headers, status=status)

    # -- plugins ---------------------------------------------------------------------------
    def wait_for_events(self, timeout: float = 10.0) -> None:
        """Wait until event hooks ran for everything done so far (they run on a thread)."""
        assert self.core is not None, "Mapp was made without a core"
        assert self.core.events.wait(timeout), "event hooks did not finish in time"

    def get_json(self, path: str, status: int = 200) -> Any:
        return self.app.get(path, headers={**self.headers, "Accept": "application/json"}, status=status)

    # -- uploads ---------------------------------------------------------------------------
    def upload(
        self,
        index: str,
        dist: Dist | None = None,
        status: int = 200,
        fields: Mapping[str, str] | None = None,
        **project: Any,
    ) -> Any:
        """Upload ``dist`` (or a wheel made from ``project`` keywords) as twine would."""
        if dist is None:
            dist = make_wheel(Project(**project))
        form = twine_fields(dist)
        form.update(fields or {})
        return self.app.post(
            f"/{index}/",
            params=list(form.items()),
            upload_files=[("content", dist.filename, dist.content)],
            headers=self.headers,
            status=status,
        )

    # -- the simple API --------------------------------------------------------------------
    def simple_json(self, index: str, project: str, status: int = 200) -> Any:
        return self.app.get(
            f"/{index}/+simple/{project}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json", **self.headers},
            status=status,
        )

    def simple_html(self, index: str, project: str, status: int = 200) -> Any:
        return self.app.get(
            f"/{index}/+simple/{project}/", headers={"Accept": "text/html", **self.headers}, status=status
        )


def twine_fields(dist: Dist) -> dict[str, str]:
    """The form fields twine sends with a file."""
    import hashlib

    from idx_server.model.distfiles import parse_dist_filename

    parsed = parse_dist_filename(dist.filename)
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": parsed.project,
        "version": str(parsed.version),
        "filetype": "bdist_wheel" if parsed.is_wheel else "sdist",
        "pyversion": "py3" if parsed.is_wheel else "source",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(dist.content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(dist.content, digest_size=32).hexdigest(),
    }


def upload_body(dist: Dist) -> tuple[str, bytes]:
    """The multipart upload request twine sends for ``dist``: (Content-Type, body), for
    posting to a live server with a plain HTTP client."""
    import secrets

    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in twine_fields(dist).items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{dist.filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + dist.content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


# -- a live server ----------------------------------------------------------------------------
@dataclass
class LiveServer:
    """A running ``idx-server`` subprocess."""

    url: str
    serverdir: Path
    process: subprocess.Popen[str]
    args: list[str] = field(default_factory=list)
    log_path: Path | None = None
    _log_file: Any = None
    _pump: Any = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._pump is not None:
            self._pump.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def json(self, path: str, **kwargs: Any) -> Any:
        import urllib.request

        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"}, **kwargs)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One JSON request (``body`` sent as JSON); returns the status and the decoded
        JSON answer (or its text), for error statuses too."""
        import urllib.error
        import urllib.request

        all_headers = {"Accept": "application/json", **(basic_auth(*auth) if auth else {}), **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")


_LISTENING = re.compile(r"listening on (http://\S+?)/? ")


def start_server(
    serverdir: Path,
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    timeout: float = 30,
) -> LiveServer:
    """Start ``idx-server`` and wait until it answers (GET /+api)."""
    serverdir.mkdir(parents=True, exist_ok=True)
    log_path = serverdir.parent / f"{serverdir.name}.log"
    args = [
        sys.executable,
        "-m",
        "idx_server",
        "--serverdir",
        str(serverdir),
        "--port",
        str(port),
        "--root-password",
        ROOT_PASSWORD,
        *extra_args,
    ]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    log_file = log_path.open("a")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log_file, text=True, env=environment)
    deadline = time.monotonic() + timeout
    url = None
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        log_file.write(line)
        match = _LISTENING.search(line)
        if match:
            url = match.group(1)
            break
    log_file.flush()
    if url is None:
        process.kill()
        raise RuntimeError(f"idx-server did not start:\n{log_path.read_text()}")
    return LiveServer(url, serverdir, process, args, log_path, log_file, _drain(process, log_file))


def _drain(process: subprocess.Popen[str], log_file: Any) -> Any:
    import threading

    def pump() -> None:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log_file.write(line)
                log_file.flush()
        except (ValueError, OSError):
            pass  # closed on stop

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "live-server", "--mirror-url", UNREACHABLE_UPSTREAM)
    yield server
    server.stop()
