"""The mirror with a real server and real installers: pip and uv through root/pypi and
through an inheriting index, a warm cache, an outage, a restart during the outage."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest
from fakes.upstream import FakeUpstream
from idx_server.testing import ROOT_PASSWORD, basic_auth, start_server


@pytest.fixture
def upstream():
    fake = FakeUpstream().start()
    fake.add("lib-one", "1.0")
    fake.add("lib-one", "1.1")
    fake.add("app-two", "2.0", requires_dist=["lib-one>=1.1"])
    yield fake
    fake.stop()


@pytest.fixture
def server(tmp_path, upstream):
    srv = start_server(tmp_path / "srv", "--mirror-url", upstream.url)
    yield srv
    srv.stop()


def pip_install(venv: Path, index_url: str, env: dict, *requirements: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--index-url",
            index_url,
            *requirements,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def uv_install(venv: Path, index_url: str, env: dict, *requirements: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--no-cache",
            "--index-url",
            index_url,
            *requirements,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def installed(venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PIP_CONFIG_FILE": os.devnull, "PATH": os.environ["PATH"]},
    ).stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


def first_file_url(server, project: str) -> str:
    """The absolute URL of the first file on ``project``'s root/pypi page (JSON)."""
    page = f"{server.url}/root/pypi/+simple/{project}/"
    request = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request) as response:
        return urljoin(page, json.load(response)["files"][0]["url"])


def api(
    server, method: str, path: str, body: object, auth: tuple[str, str] = ("root", ROOT_PASSWORD)
) -> dict:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json", **basic_auth(*auth)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_pip_and_uv_through_root_pypi_and_a_stage(server, upstream, venv_factory, client_env):
    index = f"{server.url}/root/pypi/+simple/"
    venv = venv_factory()
    result = pip_install(venv, index, client_env, "app-two")
    assert result.returncode == 0, result.stderr
    assert installed(venv)["lib-one"] == "1.1"
    files_after_first = upstream.count("/files/")
    assert files_after_first >= 2

    # A second install into a fresh venv asks upstream for no files.
    venv2 = venv_factory()
    result = pip_install(venv2, index, client_env, "app-two")
    assert result.returncode == 0, result.stderr
    assert upstream.count("/files/") == files_after_first

    # uv, through an index inheriting root/pypi.
    api(server, "PUT", "/alice", {"password": "pw"})
    api(server, "PUT", "/alice/dev", {"bases": ["root/pypi"]}, auth=("alice", "pw"))
    venv3 = venv_factory()
    result = uv_install(venv3, f"{server.url}/alice/dev/+simple/", client_env, "app-two")
    assert result.returncode == 0, result.stderr
    assert installed(venv3)["app-two"] == "2.0"
    assert upstream.count("/files/") == files_after_first


def test_outage_and_restart_during_outage(tmp_path, server, upstream, venv_factory, client_env):
    index = f"{server.url}/root/pypi/+simple/"
    result = pip_install(venv_factory(), index, client_env, "app-two")
    assert result.returncode == 0, result.stderr
    api(server, "PATCH", "/root/pypi", ["mirror_cache_expiry=0"])

    upstream.stop()
    result = pip_install(venv_factory(), index, client_env, "app-two")
    assert result.returncode == 0, result.stderr

    server.stop()
    restarted = start_server(server.serverdir, "--mirror-url", upstream.url)
    try:
        result = pip_install(venv_factory(), f"{restarted.url}/root/pypi/+simple/", client_env, "app-two")
        assert result.returncode == 0, result.stderr
        result = uv_install(venv_factory(), f"{restarted.url}/root/pypi/+simple/", client_env, "app-two")
        assert result.returncode == 0, result.stderr
    finally:
        restarted.stop()


def test_a_hanging_upstream_does_not_hang_installs(server, upstream, venv_factory, client_env):
    """Upstream takes connections and never answers (a firewall dropping replies, an
    overloaded PyPI): the cached pages, due for revalidation, wait upstream_stale_timeout
    (3 s) for it, the first one only, and pip installs within its own 15 s timeout."""
    index = f"{server.url}/root/pypi/+simple/"
    result = pip_install(venv_factory(), index, client_env, "app-two")
    assert result.returncode == 0, result.stderr
    api(server, "PATCH", "/root/pypi", ["mirror_cache_expiry=0"])
    upstream.delay = 120
    venv = venv_factory()
    start = time.monotonic()
    result = pip_install(venv, index, client_env, "app-two")
    took = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert installed(venv)["app-two"] == "2.0"
    assert took < 15, took
    start = time.monotonic()
    result = uv_install(venv_factory(), index, client_env, "app-two")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 10


def test_concurrent_first_downloads_share_one_upstream_request(server, upstream):
    (big,) = upstream.add("bigfile", "1.0", code="DATA = '" + "z" * 400_000 + "'\n")
    upstream.chunk_delay = 0.02
    url = first_file_url(server, "bigfile")
    results: list[str] = []

    def fetch() -> None:
        with urllib.request.urlopen(url, timeout=60) as response:
            results.append(hashlib.sha256(response.read()).hexdigest())

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [big.dist.sha256] * 6
    assert upstream.file_requests(big.filename) == 1


def test_corrupt_upstream_file_never_completes(server, upstream):
    (bad,) = upstream.add("badbytes", "1.0", code="DATA = '" + "q" * 100_000 + "'\n")
    bad.corrupt_with = bad.dist.content[:-10] + b"0123456789"
    url = first_file_url(server, "badbytes")
    with pytest.raises(Exception):  # noqa: B017  - any failure; never a complete 200
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
    assert "nothing was kept" in server.log()


@pytest.mark.pypi
def test_real_pypi(tmp_path, venv_factory, client_env):
    """Opt-in (IDX_TEST_PYPI=1): install requests through the real PyPI, twice."""
    srv = start_server(tmp_path / "pypi-srv")
    try:
        index = f"{srv.url}/root/pypi/+simple/"
        result = pip_install(venv_factory(), index, client_env, "requests")
        assert result.returncode == 0, result.stderr
        cached = srv.json("/+status")["result"]["counts"]["files"]
        assert cached >= 5  # requests and its dependencies
        served_before = srv.log().count("/+f/")
        result = pip_install(venv_factory(), index, client_env, "requests")
        assert result.returncode == 0, result.stderr
        assert srv.log().count("/+f/") > served_before
        # Every file came from the cache: nothing new was fetched from PyPI.
        assert srv.json("/+status")["result"]["counts"]["files"] == cached
    finally:
        srv.stop()


def test_concurrent_page_requests_share_one_upstream_request(server, upstream):
    upstream.add("slowpage", "1.0")
    upstream.path_delays["/simple/slowpage/"] = 1.0
    statuses: list[int] = []

    def fetch() -> None:
        request = urllib.request.Request(
            f"{server.url}/root/pypi/+simple/slowpage/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            statuses.append(response.status)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 8
    assert upstream.count("/simple/slowpage/") == 1


def test_offline_server_never_contacts_upstream(tmp_path, upstream, venv_factory, client_env):
    srv = start_server(tmp_path / "warm", "--mirror-url", upstream.url)
    try:
        result = pip_install(venv_factory(), f"{srv.url}/root/pypi/+simple/", client_env, "lib-one==1.0")
        assert result.returncode == 0, result.stderr
    finally:
        srv.stop()
    upstream.reset_counts()
    offline = start_server(srv.serverdir, "--mirror-url", upstream.url, "--offline")
    try:
        result = pip_install(venv_factory(), f"{offline.url}/root/pypi/+simple/", client_env, "lib-one")
        assert result.returncode == 0, result.stderr
        assert "lib-one-1.0" in result.stdout or "lib_one-1.0" in result.stdout
    finally:
        offline.stop()
    assert upstream.count() == 0


def test_a_big_cached_file_comes_back_whole(server, upstream):
    """A big cached file is sent from a memory map, window after window
    (idx_server.filebody): every byte, in order, whole and by range, from the running
    server."""
    import base64

    from idx_server.filebody import MAP_WINDOW

    noise = base64.b64encode(os.urandom(MAP_WINDOW)).decode()  # barely compressible
    (big,) = upstream.add("hugefile", "1.0", code=f"DATA = '{noise}'\n")
    size = len(big.dist.content)
    assert size > MAP_WINDOW
    url = first_file_url(server, "hugefile")
    for _ in range(2):  # streamed from upstream, then from disk
        with urllib.request.urlopen(url, timeout=60) as response:
            assert hashlib.sha256(response.read()).hexdigest() == big.dist.sha256
    assert upstream.file_requests(big.filename) == 1
    start = size - MAP_WINDOW // 2
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.read() == big.dist.content[start:]


def test_a_first_download_reaches_a_slow_reader_whole(server, upstream):
    """A file streamed from upstream while it is cached goes to waitress chunk by chunk,
    uncopied (idx_server.filebody.streamed_body): a client with a small receive buffer
    that starts reading late, so most chunks go out in pieces from waitress's queue, gets
    every byte in order, and the next response on the same connection is framed right."""
    import base64
    import socket
    from urllib.parse import urlsplit

    noise = base64.b64encode(os.urandom(4_500_000)).decode()
    (big,) = upstream.add("slowreader", "1.0", code=f"DATA = '{noise}'\n")
    url = first_file_url(server, "slowreader")
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(30)
    with sock:
        sock.connect((parts.hostname, parts.port))
        request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        sock.sendall(request)
        time.sleep(1)  # let every buffer on the way fill up
        stream = sock.makefile("rb")
        for _ in range(2):  # the file from upstream, then from the cache on the same connection
            assert stream.readline().startswith(b"HTTP/1.1 200 ")
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = bytearray()
            while len(body) < int(headers["content-length"]):
                body += stream.read(min(16384, int(headers["content-length"]) - len(body)))
            assert hashlib.sha256(body).hexdigest() == big.dist.sha256
            sock.sendall(request)
    assert upstream.file_requests(big.filename) == 1


def test_a_first_download_whose_client_leaves_is_still_cached(server, upstream):
    """The first request for a file downloads it while sending it; when that client
    hangs up halfway, the server finishes the download anyway: the next request is
    answered from the cache, and upstream was asked once."""
    import base64
    import socket
    import time
    from urllib.parse import urlsplit

    noise = base64.b64encode(os.urandom(3_000_000)).decode()
    (big,) = upstream.add("leftbehind", "1.0", code=f"DATA = '{noise}'\n")
    upstream.chunk_delay = 0.01  # slow enough that the client leaves mid-way
    url = first_file_url(server, "leftbehind")
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        received = b""
        while len(received) < 200_000:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 ")
    upstream.chunk_delay = 0
    deadline = time.monotonic() + 30
    cached = False
    while not cached and time.monotonic() < deadline:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
            cached = response.headers.get("ETag") == f'"{big.dist.sha256}"'  # only a cached file has one
        time.sleep(0.1)
    assert cached
    with urllib.request.urlopen(url, timeout=60) as response:
        assert hashlib.sha256(response.read()).hexdigest() == big.dist.sha256
    assert upstream.file_requests(big.filename) == 1
