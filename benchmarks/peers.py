"""The servers compared: how each is installed, started, configured and addressed.

Every peer runs at its defaults, as a user following its documentation would run it;
where the benchmark had to choose (proxpi's WSGI server), the choice is stated here
and in docs/benchmarks.md. One peer is a second configuration on purpose: devpi+meta,
devpi with its PEP 658 support switched on, whose installers get the answers idx gives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import nginx
import probe
import static_server
from procs import Service, ServiceFailed, free_port

USER = "bench"
PASSWORD = "bench-password"
ROOT_PASSWORD = "bench-root-password"


@dataclass
class Context:
    """What every peer shares in one run."""

    cache: Path
    run_dir: Path
    tree: Path
    #: The upstream every mirror uses (with the emulated PyPI latency).
    upstream_url: str


class Peer:
    name = ""
    description = ""
    #: Measurement groups that do not apply to this peer, with the reason.
    not_applicable: dict[str, str] = {}
    #: Metrics (keys) that do not apply, with the reason.
    metric_not_applicable: dict[str, str] = {}

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.port = free_port()
        self.dir = ctx.run_dir / self.name
        self.services: list[Service] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- life cycle
    def prepare(self, reinstall: bool = False) -> None:
        """Install what the peer needs (once per cache dir)."""

    def version(self) -> str:
        raise NotImplementedError

    def start(self, fresh: bool) -> float:
        """Start (with an empty data dir if ``fresh``); seconds to the first 200."""
        raise NotImplementedError

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services = []

    def pause(self) -> None:
        """Hold the peer's processes while others are measured (see ``Service.pause``)."""
        for service in self.services:
            service.pause()

    def resume(self) -> None:
        for service in self.services:
            service.resume()

    def data_dir(self) -> Path | None:
        return None

    def cpu_seconds(self) -> float:
        """CPU time the peer's servers have used so far (see ``Service.cpu_seconds``)."""
        return sum(service.cpu_seconds() for service in self.services)

    # --- addresses
    def index_url(self) -> str:
        """The simple index installers are pointed at."""
        raise NotImplementedError

    def page_url(self, project: str) -> str:
        return f"{self.index_url()}{project}/"

    def root_url(self) -> str:
        return self.index_url()

    # --- private indexes (peers with uploads and inheritance)
    def create_stage(self, name: str, bases: list[str], whitelist: list[str] | None = None) -> str:
        """Create ``bench/<name>``; return its upload URL."""
        raise NotImplementedError

    def stage_page_url(self, stage: str, project: str) -> str:
        return f"{self.base_url}/{USER}/{stage}/+simple/{project}/"

    def check_file_reply(self, reply: probe.Reply, sha256: str) -> None:
        """Raise if a cached file was not served the way this peer is set up to."""


def service_env(**extra: str) -> dict[str, str]:
    """This environment (less idx's settings), never proxying loopback, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDX_")}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def _run(cmd: list[str], what: str, timeout: float = 900) -> str:
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise ServiceFailed(f"{what} failed: {(result.stderr or result.stdout)[-1500:]}")
    return result.stdout


class VenvTool:
    """A throwaway venv in the cache dir with the latest release of a peer (or of the pip
    whose installs are measured) from the registry. It is made once and reused;
    ``--reinstall-peers`` makes it again."""

    #: Venvs made again in this run: devpi and devpi+meta share one.
    remade: ClassVar[set[Path]] = set()

    def __init__(self, cache: Path, name: str, packages: list[str]) -> None:
        self.path = cache / "venvs" / name
        self.packages = packages

    def ensure(self, reinstall: bool) -> None:
        if reinstall and self.path not in self.remade:
            self.remade.add(self.path)
            shutil.rmtree(self.path, ignore_errors=True)
        marker = self.path / ".installed"
        if marker.exists():
            return
        shutil.rmtree(self.path, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(self.path)], f"creating {self.path}")
        _run(
            [str(self.bin("pip")), "install", "-q", "--upgrade", *self.packages],
            f"installing {self.packages}",
        )
        marker.touch()

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def dist_version(self, dist: str) -> str:
        code = f"import importlib.metadata as m; print(m.version({dist!r}))"
        return _run([str(self.bin("python")), "-c", code], f"{dist} version").strip()


class DevpiStyleAPI(Peer):
    """Users and indexes through devpi's JSON API (idx speaks it too)."""

    def root_auth(self) -> dict[str, str]:
        return probe.basic_auth("root", ROOT_PASSWORD)

    def create_user(self) -> None:
        reply = probe.send_json("PUT", f"{self.base_url}/{USER}", {"password": PASSWORD}, self.root_auth())
        if reply.status not in (200, 201):
            raise ServiceFailed(f"{self.name}: creating user {USER}: {reply.status} {reply.body[:300]!r}")

    def create_stage(self, name: str, bases: list[str], whitelist: list[str] | None = None) -> str:
        config = {"type": "stage", "bases": bases, "volatile": True, "mirror_whitelist": whitelist or []}
        url = f"{self.base_url}/{USER}/{name}"
        reply = probe.send_json("PUT", url, config, probe.basic_auth(USER, PASSWORD))
        if reply.status not in (200, 201):
            raise ServiceFailed(
                f"{self.name}: creating index {USER}/{name}: {reply.status} {reply.body[:300]!r}"
            )
        return url + "/"

    def index_url(self) -> str:
        return f"{self.base_url}/root/pypi/+simple/"


class Idx(DevpiStyleAPI):
    name = "idx"
    description = "idx-server (this repo), defaults"
    extra_args: list[str] = []
    #: Environment variables for idx-server (``IDX_*`` of this shell are never passed on).
    extra_env: dict[str, str] = {}

    def data_dir(self) -> Path:
        return self.dir / "serverdir"

    def version(self) -> str:
        return _run([self.server_bin(), "--version"], "idx-server --version").splitlines()[0]

    def server_bin(self) -> str:
        found = shutil.which("idx-server", path=str(Path(sys.executable).parent))
        found = found or shutil.which("idx-server")
        if found is None:
            raise ServiceFailed("idx-server is not installed: pip install -r requirements-dev.txt")
        return found

    def start_idx(self, port: int, fresh: bool) -> tuple[Service, float]:
        """idx-server on ``port``; with the seconds until it answered ``/+api``."""
        if fresh:
            shutil.rmtree(self.data_dir(), ignore_errors=True)
        cmd = [
            self.server_bin(), "--serverdir", str(self.data_dir()), "--host", "127.0.0.1",
            "--port", str(port), "--mirror-url", self.ctx.upstream_url,
            "--root-password", ROOT_PASSWORD, *self.extra_args,
        ]  # fmt: skip
        service = Service("idx", cmd, self.dir / "server.log", env=service_env(**self.extra_env))
        self.services = [service]
        return service, service.start(f"http://127.0.0.1:{port}/+api")

    def start(self, fresh: bool) -> float:
        _service, seconds = self.start_idx(self.port, fresh)
        if fresh:
            self.create_user()
        return seconds


class IdxBehindNginx(Idx):
    """idx with ``--x-accel-redirect``: nginx proxies it and sends cached files itself."""

    name = "idx+nginx"
    description = "idx-server behind nginx, which sends cached files itself (X-Accel-Redirect, file check)"
    extra_args = ["--x-accel-redirect", "/+blobs/"]
    not_applicable = dict.fromkeys(
        ("uploads", "big", "root", "lifecycle", "down", "tox"), "measured on idx itself"
    )
    metric_not_applicable = {
        "pip_cold": "measured on idx itself",
        "uv_cold": "measured on idx itself",
    }

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # Clients talk to nginx (self.port); nginx to idx.
        self.idx_port = free_port()

    def check_file_reply(self, reply: probe.Reply, sha256: str) -> None:
        # idx's own answer carries ETag "<sha256>"; nginx's (from disk) its own.
        if reply.headers.get("etag") == f'"{sha256}"' or "x-accel-redirect" in reply.headers:
            raise RuntimeError("the file came from idx, not from nginx")

    def start(self, fresh: bool) -> float:
        idx, seconds = self.start_idx(self.idx_port, fresh)
        front = nginx.idx_front(self.dir / "nginx", self.port, self.idx_port, self.data_dir() / "+files")
        self.services = [idx, front]
        front.start(f"{self.base_url}/+api")
        if fresh:
            self.create_user()
        return seconds


class Devpi(DevpiStyleAPI):
    name = "devpi"
    description = "devpi-server (latest from the registry), defaults"
    not_applicable = {"tox": "the tox rebuild compares idx with the upstream only"}
    #: Beyond the defaults: devpi-server's options, and root/pypi's settings.
    server_options: tuple[str, ...] = ()
    mirror_settings: dict[str, bool] = {}

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.venv = VenvTool(ctx.cache, "devpi-server", ["devpi-server"])

    def prepare(self, reinstall: bool = False) -> None:
        self.venv.ensure(reinstall)

    def version(self) -> str:
        return f"devpi-server {self.venv.dist_version('devpi-server')}"

    def data_dir(self) -> Path:
        return self.dir / "serverdir"

    def start(self, fresh: bool) -> float:
        if fresh:
            shutil.rmtree(self.data_dir(), ignore_errors=True)
            _run(
                [str(self.venv.bin("devpi-init")), "--serverdir", str(self.data_dir()),
                 "--root-passwd", ROOT_PASSWORD],
                "devpi-init",
            )  # fmt: skip
        cmd = [
            str(self.venv.bin("devpi-server")), "--serverdir", str(self.data_dir()),
            "--host", "127.0.0.1", "--port", str(self.port), *self.server_options,
        ]  # fmt: skip
        service = Service(self.name, cmd, self.dir / "server.log", env=service_env())
        seconds = service.start(f"{self.base_url}/+api")
        self.services = [service]
        if fresh:
            # root/pypi points at pypi.org after devpi-init; point it at the local upstream
            # before anything asks it for a project.
            settings = {"mirror_url": self.ctx.upstream_url, **self.mirror_settings}
            reply = probe.send_json(
                "PATCH",
                f"{self.base_url}/root/pypi",
                [f"{key}={value}" for key, value in settings.items()],
                self.root_auth(),
            )
            if reply.status != 200:
                raise ServiceFailed(f"{self.name}: root/pypi: {reply.status} {reply.body[:300]!r}")
            config = reply.json().get("result", {})
            if any(config.get(key) != value for key, value in settings.items()):
                raise ServiceFailed(f"{self.name}: root/pypi did not take {settings}: {config}")
            self.create_user()
        return seconds


class DevpiWithMetadata(Devpi):
    """devpi with its experimental PEP 658 support on, so installers get the same
    answers from it as from idx (a ``.metadata`` beside every wheel): installs only."""

    name = "devpi+meta"
    description = (
        "the same devpi-server with its PEP 658 support on: `--enable-core-metadata`, "
        "root/pypi's `mirror_provides_core_metadata`"
    )
    not_applicable = dict.fromkeys(
        ("pages", "files", "uploads", "big", "root", "lifecycle", "down", "tox"),
        "measured on devpi at its defaults",
    )
    server_options = ("--enable-core-metadata",)
    mirror_settings = {"mirror_provides_core_metadata": True}


class Proxpi(Peer):
    name = "proxpi"
    description = "proxpi (latest) under gunicorn: 1 worker, 16 threads (its cache is per process)"
    not_applicable = {
        "uploads": "proxpi is a read-only caching proxy",
        "tox": "proxpi is a read-only caching proxy",
    }
    metric_not_applicable = {
        "big_warm": "proxpi has no private indexes or inheritance",
        "big_after_upload": "proxpi has no uploads",
    }
    threads = 16

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.venv = VenvTool(ctx.cache, "proxpi", ["proxpi", "gunicorn"])

    def prepare(self, reinstall: bool = False) -> None:
        self.venv.ensure(reinstall)

    def version(self) -> str:
        return f"proxpi {self.venv.dist_version('proxpi')}, gunicorn {self.venv.dist_version('gunicorn')}"

    def data_dir(self) -> Path:
        return self.dir / "cache"

    def index_url(self) -> str:
        return f"{self.base_url}/index/"

    def start(self, fresh: bool) -> float:
        if fresh:
            shutil.rmtree(self.data_dir(), ignore_errors=True)
        self.data_dir().mkdir(parents=True, exist_ok=True)
        env = service_env(PROXPI_INDEX_URL=self.ctx.upstream_url, PROXPI_CACHE_DIR=str(self.data_dir()))
        # --timeout 0: no worker timeout. The harness pauses a waiting peer (SIGSTOP) for
        # minutes; resumed, gunicorn's master took the paused worker for a hung one and
        # replaced it (proxpi's index cache, in that process's memory, gone with it).
        cmd = [
            str(self.venv.bin("gunicorn")), "--preload", "--workers", "1", "--threads", str(self.threads),
            "--timeout", "0", "--bind", f"127.0.0.1:{self.port}", "proxpi.server:app",
        ]  # fmt: skip
        service = Service(self.name, cmd, self.dir / "server.log", env=env)
        seconds = service.start(f"{self.base_url}/health")
        self.services = [service]
        return seconds


class StaticTree(Peer):
    """A server of the upstream tree itself: nothing to cache, nothing to configure."""

    not_applicable = {
        "uploads": "a static file server has no uploads",
        "down": "a static server has no upstream",
        "tox": "baseline for pages and files only",
    }
    metric_not_applicable = {
        "pip_cold": "no cache: every install is like the warm one",
        "uv_cold": "no cache: every install is like the warm one",
        "big_cold": "no cache",
        "big_warm": "no index inheritance",
        "big_after_upload": "no uploads",
        "root_first": "no cache",
        "root_complete": "no cache",
        "root_blocking": "no cache",
        "disk": "serves the upstream tree in place",
        "start_fresh": "no state: see start",
    }

    def index_url(self) -> str:
        return f"{self.base_url}/simple/"


class Static(StaticTree):
    name = "static"
    description = "threaded stdlib http.server (benchmarks/static_server.py), no added latency"

    def version(self) -> str:
        return f"Python {sys.version.split()[0]} http.server (ThreadingHTTPServer)"

    def start(self, fresh: bool) -> float:
        cmd = [sys.executable, static_server.__file__, "--root", str(self.ctx.tree), "--port", str(self.port)]
        service = Service(self.name, cmd, self.dir / "server.log")
        seconds = service.start(self.page_url("six"))
        self.services = [service]
        return seconds


class Nginx(StaticTree):
    name = "nginx"
    description = "nginx (Debian package) serving the same tree: the physical limit"

    def version(self) -> str:
        result = subprocess.run([nginx.binary(), "-v"], check=False, capture_output=True, text=True)
        return (result.stderr or result.stdout).strip().replace("nginx version: ", "")

    def start(self, fresh: bool) -> float:
        service = nginx.static_tree(self.dir, self.ctx.tree, self.port)
        seconds = service.start(self.page_url("six"))
        self.services = [service]
        return seconds


class Direct(Peer):
    """Installs straight from the upstream (with its emulated PyPI latency): the
    reference for cold installs through a mirror."""

    name = "direct"
    description = "straight from the upstream, with its added latency (no mirror)"
    not_applicable = dict.fromkeys(
        ("pages", "files", "uploads", "big", "root", "lifecycle", "down"),
        "the upstream itself: only installs are measured",
    )
    metric_not_applicable = {
        "pip_warm": "no cache: every install is cold",
        "uv_warm": "no cache: every install is cold",
    }

    def __init__(self, ctx: Context, upstream: Service) -> None:
        super().__init__(ctx)
        self.upstream = upstream

    def version(self) -> str:
        return "benchmarks/static_server.py with added latency"

    def index_url(self) -> str:
        return self.ctx.upstream_url

    def start(self, fresh: bool) -> float:
        return 0.0

    def stop(self) -> None:
        pass  # the upstream is the run's, not this peer's

    def cpu_seconds(self) -> float:
        return self.upstream.cpu_seconds()  # the server of a direct install


PEER_ORDER = ("idx", "idx+nginx", "devpi", "devpi+meta", "proxpi", "direct", "static", "nginx")
