"""API tokens and a read-protected index with the real clients: ``idx token``, twine, pip
and uv authenticate with a token; revoking it stops them at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fakes.runners import Idx
from idx_server.testing import ROOT_PASSWORD, Project, make_wheel, start_server


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "srv")
    yield srv
    srv.stop()


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=300)


def test_tokens_with_twine_pip_and_uv(server, tmp_path, client_env, venv_factory):
    idx = Idx(client_env, tmp_path)
    idx("use", server.url)
    idx("login", "root", "--password", ROOT_PASSWORD)
    idx("user", "-c", "alice", "password=pw")
    idx("login", "alice", "--password", "pw")
    idx("index", "-c", "private", "acl_read=alice")
    upload = idx("token", "create", "--index", "alice/private", "--scope", "upload", "--json").stdout
    read = idx("token", "create", "--scope", "read", "--expires", "1d", "--json").stdout
    import json

    upload_token, read_token = json.loads(upload)["token"], json.loads(read)["token"]
    assert upload_token not in idx("token", "list").stdout

    wheel = make_wheel(Project("secret-sauce", "1.0")).write(tmp_path)
    twine = ["twine", "upload", "--repository-url", f"{server.url}/alice/private/", "-u", "__token__"]
    result = run(*twine, "-p", read_token, str(wheel), env=client_env)
    assert result.returncode != 0
    assert "403" in result.stdout + result.stderr
    result = run(*twine, "-p", upload_token, str(wheel), env=client_env)
    assert result.returncode == 0, result.stdout + result.stderr

    host = server.url.removeprefix("http://")
    anonymous = f"{server.url}/alice/private/+simple/"
    with_token = f"http://__token__:{read_token}@{host}/alice/private/+simple/"
    venv = venv_factory()
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "--index-url"]
    denied = subprocess.run([*pip, anonymous, "secret-sauce"], env=client_env, capture_output=True, text=True)
    assert denied.returncode != 0  # pip, asked for credentials by the 401, has none to give
    allowed = subprocess.run(
        [*pip, with_token, "secret-sauce"], env=client_env, capture_output=True, text=True
    )
    assert allowed.returncode == 0, allowed.stderr
    uv = ["uv", "pip", "install", "--python", str(venv / "bin" / "python"), "--reinstall", "--no-cache"]
    assert run(*uv, "--index-url", with_token, "secret-sauce", env=client_env).returncode == 0

    token_id = json.loads(read)["id"]
    idx("token", "revoke", str(token_id))
    revoked = run(*uv, "--index-url", with_token, "secret-sauce", env=client_env)
    assert revoked.returncode != 0


def _failed_login(url: str, user: str, forwarded_for: str) -> int:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/+login",
        data=json.dumps({"user": user, "password": "wrong"}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("trusted", [True, False])
def test_the_login_throttle_counts_clients_behind_a_trusted_proxy(tmp_path, trusted):
    """This test is the proxy (127.0.0.1): with --trusted-proxies the daemon counts the
    failures against the client X-Forwarded-For names; without, against the proxy."""
    args = ("--trusted-proxies", "127.0.0.1") if trusted else ()
    server = start_server(tmp_path / "srv", *args)
    try:
        for n in range(10):
            assert _failed_login(server.url, f"user{n}", "203.0.113.7") == 401
        assert _failed_login(server.url, "user0", "203.0.113.7") == 429
        assert _failed_login(server.url, "someone", "203.0.113.8") == (401 if trusted else 429)
    finally:
        server.stop()
