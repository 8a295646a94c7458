"""Moving from devpi: a dump written by the real devpi-server (installed from the package
registry) is imported with ``idx-server import --from-devpi``, and idx then serves it all:
users log in with their devpi passwords, pip installs, files, metadata and test results
are the same."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from idx_server.testing import UNREACHABLE_UPSTREAM, Project, make_sdist, make_wheel, start_server

pytestmark = pytest.mark.slow

DEVPI_SERVER = "devpi-server>=6.10,<7"
CACHE = Path(__file__).resolve().parents[2] / ".bench-cache"
TOX_JSON = {
    "reportversion": "1",
    "toxversion": "4.0",
    "platform": "linux",
    "host": "ci",
    "testenvs": {"py3": {"test": [{"retcode": 0, "command": ["pytest"], "output": "1 passed"}]}},
}
PROJECT = Project(
    "hello-devpi", "1.0", summary="moved from devpi", requires_python=">=3.8", code="VALUE = 7\n"
)


@pytest.fixture(scope="session")
def devpi_bin() -> Path:
    """The bin/ of a virtualenv with devpi-server, kept in .bench-cache between runs (pip
    reaches the registry here, with this machine's own pip settings)."""
    venv = CACHE / "devpi-server-6"
    CACHE.mkdir(exist_ok=True)
    with (CACHE / "devpi-server-6.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building it
        if not _works(venv):
            subprocess.run(
                [sys.executable, "-m", "virtualenv", "--quiet", "--clear", "--no-periodic-update", str(venv)],
                check=True,
                timeout=300,
            )
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_CONFIG_FILE")
            }
            process = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", DEVPI_SERVER],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert process.returncode == 0, (
                f"could not install {DEVPI_SERVER}:\n{process.stdout}\n{process.stderr}"
            )
            assert _works(venv)
    return venv / "bin"


def _works(venv: Path) -> bool:
    script = venv / "bin" / "devpi-server"
    if not script.exists():
        return False
    return (
        subprocess.run([str(script), "--version"], capture_output=True, timeout=120, check=False).returncode
        == 0
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Devpi:
    """A devpi-server process and its JSON API."""

    def __init__(self, bin_dir: Path, serverdir: Path, env: dict[str, str]) -> None:
        self.bin = bin_dir
        self.serverdir = serverdir
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = serverdir.parent / "devpi.log"

    def run(self, *args: str) -> None:
        process = subprocess.run(
            [str(self.bin / args[0]), *args[1:]], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert process.returncode == 0, f"{args} failed:\n{process.stdout}\n{process.stderr}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin / "devpi-server"), "--serverdir", str(self.serverdir), "--host", "127.0.0.1",
                 "--port", str(self.port), "--threads", "4"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                self.api("GET", "/+api")
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError("devpi-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def api(self, method: str, path: str, body: Any = None, auth: tuple[str, str] | None = None) -> Any:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)


@pytest.fixture
def devpi_dump(devpi_bin, tmp_path, client_env) -> dict[str, Any]:
    """A devpi-export dump: users alice and root, alice/dev (a wheel with a test result and an
    sdist), alice/prod (the release pushed there), root/upstream (a mirror)."""
    devpi = Devpi(devpi_bin, tmp_path / "devpi-server", client_env)
    devpi.run(
        "devpi-init", "--serverdir", str(devpi.serverdir), "--root-passwd", "root-devpi-pw", "--no-root-pypi"
    )
    devpi.start()
    alice = ("alice", "alice-devpi-pw")
    wheel, sdist = make_wheel(PROJECT), make_sdist(PROJECT)
    try:
        devpi.api("PUT", "/alice", {"password": alice[1], "email": "alice@example.org", "title": "Alice"})
        devpi.api(
            "PUT", "/alice/dev", {"volatile": False, "acl_upload": ["alice"], "title": "Dev"}, auth=alice
        )
        devpi.api(
            "PUT", "/alice/prod", {"bases": ["alice/dev"], "mirror_whitelist": ["hello-devpi"]}, auth=alice
        )
        devpi.api(
            "PUT",
            "/root/upstream",
            {"type": "mirror", "mirror_url": UNREACHABLE_UPSTREAM, "mirror_cache_expiry": 600,
             "mirror_web_url_fmt": "https://example.org/{name}"},
            auth=("root", "root-devpi-pw"),
        )  # fmt: skip
        files = [str(dist.write(tmp_path)) for dist in (wheel, sdist)]
        upload = subprocess.run(
            [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", f"{devpi.url}/alice/dev/", "-u", alice[0], "-p", alice[1], *files],
            env=client_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert upload.returncode == 0, upload.stdout + upload.stderr
        links = devpi.api("GET", "/alice/dev/hello-devpi/1.0")["result"]["+links"]
        wheel_href = next(link["href"] for link in links if link["href"].endswith(".whl"))
        devpi.api("POST", wheel_href.removeprefix(devpi.url), TOX_JSON)
        body = {"name": "hello-devpi", "version": "1.0", "targetindex": "alice/prod"}
        devpi.api("POST", "/alice/dev", body, auth=alice)
        devpi_release = devpi.api("GET", "/alice/dev/hello-devpi/1.0")["result"]
    finally:
        devpi.stop()
    dump = tmp_path / "dump"
    devpi.run("devpi-export", "--serverdir", str(devpi.serverdir), str(dump))
    return {"dump": dump, "wheel": wheel, "sdist": sdist, "release": devpi_release}


def request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, headers, method=method), timeout=30
        ) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_devpi_dump_moves_over(devpi_dump, tmp_path, client_env, venv_factory):
    serverdir = tmp_path / "idx-server"
    imported = subprocess.run(
        [sys.executable, "-m", "idx_server", "import", "--from-devpi", str(devpi_dump["dump"]),
         "--serverdir", str(serverdir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "imported 2 users, 3 indexes, 2 releases, 4 files, 2 test results" in imported.stdout
    assert "mirror_web_url_fmt" in imported.stdout, "what idx has no setting for is listed"
    checked = subprocess.run(
        [sys.executable, "-m", "idx_server", "check", "--serverdir", str(serverdir), "--checksums",
         "--grace", "0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

    server = start_server(serverdir, "--mirror-url", UNREACHABLE_UPSTREAM)
    try:
        # devpi's argon2 password hashes carry over.
        assert (
            request(server.url + "/+login", "POST", {"user": "alice", "password": "alice-devpi-pw"})[0] == 200
        )
        assert (
            request(server.url + "/+login", "POST", {"user": "root", "password": "root-devpi-pw"})[0] == 200
        )
        assert request(server.url + "/+login", "POST", {"user": "alice", "password": "wrong"})[0] == 401
        assert server.json("/alice")["result"]["email"] == "alice@example.org"

        dev = server.json("/alice/dev")["result"]
        assert (dev["volatile"], dev["acl_upload"], dev["title"]) == (False, ["alice"], "Dev")
        prod = server.json("/alice/prod")["result"]
        assert (prod["bases"], prod["mirror_whitelist"]) == (["alice/dev"], ["hello-devpi"])
        mirror = server.json("/root/upstream")["result"]
        assert (mirror["type"], mirror["mirror_url"], mirror["mirror_cache_expiry"]) == (
            "mirror",
            UNREACHABLE_UPSTREAM,
            600,
        )

        release = server.json("/alice/dev/hello-devpi/1.0")["result"]
        for key in ("name", "version", "summary", "requires_python", "metadata_version", "description"):
            assert release[key] == devpi_dump["release"][key], key
        files = {
            link["href"].rsplit("/", 1)[-1]: link
            for link in release["+links"]
            if link["rel"] == "releasefile"
        }
        for dist in (devpi_dump["wheel"], devpi_dump["sdist"]):
            link = files[dist.filename]
            assert link["hashes"]["sha256"] == dist.sha256
            with urllib.request.urlopen(link["href"], timeout=30) as response:
                assert hashlib.sha256(response.read()).hexdigest() == dist.sha256
            assert (link["log"][0]["who"], link["log"][0]["what"]) == ("alice", "upload")
        (tox,) = [link for link in release["+links"] if link["rel"] == "toxresult"]
        assert tox["for_href"].endswith(devpi_dump["wheel"].filename)
        with urllib.request.urlopen(tox["href"], timeout=30) as response:
            assert json.load(response) == TOX_JSON

        pushed = server.json("/alice/prod/hello-devpi/1.0")["result"]["+links"]
        assert [entry["what"] for entry in pushed[0]["log"]] == ["upload", "push"]

        venv = venv_factory("devpi-import")
        install = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
             "--index-url", f"{server.url}/alice/prod/+simple/", "hello-devpi==1.0"],
            env=client_env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert install.returncode == 0, install.stdout + install.stderr
        run = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import hello_devpi; print(hello_devpi.VALUE)"],
            env=client_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.stdout.strip() == "7"
    finally:
        server.stop()
