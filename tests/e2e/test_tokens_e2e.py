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
