"""idx behind nginx, as docs/operations.md deploys it (the configuration of
``benchmarks/nginx.py``): nginx proxies idx, and sends files from ``serverdir/+files/``
itself, asking idx first (an ``auth_request`` it caches) whether and which. Real nginx,
real idx-server, pip; the files nginx sends must be the right bytes, and nothing idx
would refuse may come out of nginx alone."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from fakes.upstream import FakeUpstream
from idx_server.testing import (
    ROOT_PASSWORD,
    Project,
    basic_auth,
    make_wheel,
    start_server,
    upload_body,
)

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (apt-get install nginx; .ci/run installs it)",
)

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = make_wheel(Project("secret-lib", "1.0", code="SECRET = 1\n" * 500))


@pytest.fixture(scope="module")
def nginx_conf() -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import nginx  # benchmarks/nginx.py: the configuration under test

        return nginx
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    fake.add("lib-one", "1.0", code="VALUE = 1\n" * 2000)
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, upstream, nginx_conf) -> Iterator[str]:
    """idx-server behind nginx; nginx's URL. alice/private (read: alice) has PRIVATE."""
    base = tmp_path_factory.mktemp("nginx-front")
    idx = start_server(base / "srv", "--mirror-url", upstream.url, "--x-accel-redirect", "/+blobs/")
    from procs import free_port  # benchmarks/procs.py, imported by nginx.py

    port = free_port()
    front = nginx_conf.idx_front(
        base / "nginx", port, int(idx.url.rsplit(":", 1)[1]), idx.serverdir / "+files"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        front.start(f"{url}/+api")
        assert idx.request("PUT", "/alice", {"password": "pw"}, auth=("root", ROOT_PASSWORD))[0] == 201
        assert idx.request("PUT", "/alice/private", {"acl_read": ["alice"]}, auth=("alice", "pw"))[0] == 201
        content_type, body = upload_body(PRIVATE)
        request = urllib.request.Request(
            f"{idx.url}/alice/private/",
            data=body,
            headers={"Content-Type": content_type, **basic_auth("alice", "pw")},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        yield url
    finally:
        front.stop()
        idx.stop()


def get(url: str, method: str = "GET", **headers: str) -> tuple[int, Message, bytes]:
    """Status, headers (names case-insensitive) and body."""
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def file_url(base: str, index: str, project: str, **headers: str) -> str:
    page = f"{base}/{index}/+simple/{project}/"
    status, _, body = get(page, **headers)
    assert status == 200, body
    href = body.decode().split('href="', 1)[1].split('"', 1)[0]
    return urljoin(page, href.split("#", 1)[0])


def test_pip_installs_through_nginx_and_the_cached_file_comes_from_disk(
    stack, upstream, venv_factory, client_env
):
    url = stack
    venv = venv_factory()
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
         "--index-url", f"{url}/root/pypi/+simple/", "lib-one"],
        env=client_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wheel = file_url(url, "root/pypi", "lib-one")
    expected = upstream.file(wheel.rsplit("/", 1)[1]).dist
    for _ in range(3):
        status, headers, body = get(wheel)
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == expected.sha256
        # nginx's own ETag (mtime-size), not idx's "<sha256>": the bytes came from disk.
        assert headers["ETag"] != f'"{expected.sha256}"'
        assert headers["Cache-Control"] == "max-age=31536000, immutable"  # as idx sends it
    whole = body
    status, headers, body = get(wheel, Range="bytes=10-19")
    assert (status, body) == (206, whole[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(whole)}"


def test_a_protected_file_needs_credentials_through_nginx_too(stack):
    url = stack
    auth = basic_auth("alice", "pw")
    wheel = file_url(url, "alice/private", "secret-lib", **auth)
    for _ in range(2):  # the second time with a check nginx could have cached
        status, headers, _ = get(wheel)
        assert status == 401
        assert "WWW-Authenticate" in headers
    status, _, body = get(wheel, **auth)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == PRIVATE.sha256
    status, _, _ = get(wheel, **basic_auth("alice", "wrong"))
    assert status == 401


def test_unknown_files_and_other_methods_reach_idx(stack):
    url = stack
    auth = basic_auth("alice", "pw")
    wheel = file_url(url, "alice/private", "secret-lib", **auth)
    assert get(wheel.replace("secret_lib-1.0", "secret_lib-9.0"), **auth)[0] == 404
    # DELETE goes to idx (nginx's static module would answer 405).
    assert get(wheel, "DELETE")[0] in (401, 403)
    assert get(wheel, "DELETE", **auth)[0] == 200
    assert get(wheel, **auth)[0] == 404
