"""A full disk and a read-only server directory: writes fail with 507/503 and a clear
message, nothing is half-written, reads go on being served.

These mount real file systems (a small tmpfs; a read-only bind mount), which needs root;
elsewhere the tests skip and say why. CI runs as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.upstream import FakeUpstream
from idx_server.testing import Project, basic_auth, make_wheel, start_server


def mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount ({result.stderr.strip()}); these tests need root")


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = tmp_path / "disk"
    path.mkdir()
    mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path))
    yield path
    unmount(path)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.add("small-dep", "1.0")
    fake.add("big-dep", "1.0", code="DATA = " + repr(os.urandom(3_000_000).hex()) + "\n")
    yield fake.start()
    fake.stop()


def call(
    url: str, method: str = "GET", body: object = None, auth: tuple[str, str] | None = None
) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", **(basic_auth(*auth) if auth else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def twine(url: str, path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--repository-url",
            url,
            "-u",
            "alice",
            "-p",
            "pw",
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def pip_download(url: str, project: str, dest: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "python",
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "-d",
            str(dest),
            "-i",
            url,
            project,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def setup_alice(url: str) -> None:
    assert call(f"{url}/alice", "PUT", {"password": "pw"}, ("root", "root"))[0] == 201
    assert call(f"{url}/alice/dev", "PUT", {"bases": ["root/pypi"]}, ("alice", "pw"))[0] == 201


def test_full_disk(small_disk, upstream, tmp_path, client_env):
    env = {**client_env, "PATH": os.environ["PATH"]}
    server = start_server(small_disk / "srv", "--mirror-url", upstream.url)
    try:
        setup_alice(server.url)
        small = make_wheel(Project("small-private", "1.0")).write(tmp_path)
        assert twine(f"{server.url}/alice/dev/", small, env).returncode == 0
        cached = pip_download(f"{server.url}/alice/dev/+simple/", "small-dep", tmp_path / "warm", env)
        assert cached.returncode == 0, cached.stderr
        # The mirror stores small-dep's download a moment after it went out: let it
        # land (its temp file renamed into place) before the disk fills.
        temp_dir = small_disk / "srv" / "+files" / ".tmp"
        deadline = time.monotonic() + 10
        while list(temp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(temp_dir.iterdir()) == []

        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * max(0, free - 600_000))
        big = make_wheel(
            Project("big-private", "1.0", code="DATA = " + repr(os.urandom(900_000).hex()) + "\n")
        )
        result = twine(f"{server.url}/alice/dev/", big.write(tmp_path), env)
        assert result.returncode != 0
        assert "507" in result.stdout + result.stderr
        assert "disk is full" in result.stdout + result.stderr
        assert list(temp_dir.iterdir()) == []

        # A mirror file that does not fit is refused before anything is sent.
        page = pip_download(f"{server.url}/alice/dev/+simple/", "big-dep", tmp_path / "dl", env)
        assert page.returncode != 0
        assert "507" in page.stdout + page.stderr or "disk" in page.stdout + page.stderr

        # Reads go on: the private release and the cached mirror file download fine.
        for project in ("small-private", "small-dep"):
            result = pip_download(f"{server.url}/alice/dev/+simple/", project, tmp_path / "dl", env)
            assert result.returncode == 0, result.stderr
        assert call(f"{server.url}/+status")[0] == 200

        # Room again: uploads work again.
        filler.unlink()
        assert twine(f"{server.url}/alice/dev/", big.write(tmp_path), env).returncode == 0
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_read_only_server_directory(tmp_path, upstream, client_env):
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    env = {**client_env, "PATH": os.environ["PATH"]}
    source = tmp_path / "source"
    server = start_server(source / "srv", "--mirror-url", upstream.url)
    try:
        setup_alice(server.url)
        assert (
            twine(
                f"{server.url}/alice/dev/", make_wheel(Project("kept", "1.0")).write(tmp_path), env
            ).returncode
            == 0
        )
        assert (
            pip_download(f"{server.url}/alice/dev/+simple/", "small-dep", tmp_path / "warm", env).returncode
            == 0
        )
    finally:
        server.stop()

    # The server directory itself read-only (its parent keeps the test's server log).
    readonly = tmp_path / "readonly" / "srv"
    readonly.mkdir(parents=True)
    mount("--bind", str(source / "srv"), str(readonly))
    try:
        mount("-o", "remount,bind,ro", str(readonly))
        server = start_server(readonly, "--mirror-url", upstream.url)
        try:
            for project in ("kept", "small-dep"):
                result = pip_download(f"{server.url}/alice/dev/+simple/", project, tmp_path / "dl", env)
                assert result.returncode == 0, result.stderr
            result = twine(f"{server.url}/alice/dev/", make_wheel(Project("new", "1.0")).write(tmp_path), env)
            assert result.returncode != 0
            assert "503" in result.stdout + result.stderr
            assert "read-only" in result.stdout + result.stderr
            status, body = call(f"{server.url}/alice/dev", "PATCH", ["title=x"], ("alice", "pw"))
            assert status == 503
            assert "read-only" in body["message"]
            assert call(f"{server.url}/+status")[0] == 200
        finally:
            server.stop()
        assert "Traceback" not in server.log()
    finally:
        unmount(readonly)
