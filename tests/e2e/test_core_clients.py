"""The real server with the real clients: twine uploads, pip and uv install.

One server for the module; each test makes its own user and index through the JSON API.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from idx_server.testing import (
    ROOT_PASSWORD,
    UNREACHABLE_UPSTREAM,
    LiveServer,
    Project,
    make_sdist,
    make_wheel,
    start_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("e2e") / "srv", "--mirror-url", UNREACHABLE_UPSTREAM)
    yield live
    assert live.stop() == 0, live.log()


def api(server: LiveServer, method: str, path: str, body: object, user: str, password: str) -> dict:
    """A JSON API call with Basic auth, as curl would make it."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Basic {token}",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def simple_page(server: LiveServer, path: str) -> dict:
    request = urllib.request.Request(
        server.url + path, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def make_user_and_index(server: LiveServer, user: str, **config: object) -> str:
    """Create ``user`` (password ``{user}-pw``) and ``user/dev``; return the index URL."""
    api(
        server,
        "PUT",
        f"/{user}",
        {"password": f"{user}-pw", "email": f"{user}@example.org"},
        "root",
        ROOT_PASSWORD,
    )
    api(server, "PUT", f"/{user}/dev", {"bases": ["root/pypi"], **config}, user, f"{user}-pw")
    return f"{server.url}/{user}/dev/"


def twine_upload(
    index_url: str, user: str, files: list[Path], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", index_url, "-u", user, "-p", f"{user}-pw", *map(str, files)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def run_ok(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def imports(venv: Path, module: str, env: dict[str, str]) -> str:
    python = venv / "bin" / "python"
    return run_ok([str(python), "-c", f"import {module}; print({module}.VALUE)"], env).stdout.strip()


def published(server: LiveServer, user: str, tmp_path: Path, env: dict[str, str], project: Project) -> str:
    """``user/dev`` with ``project``'s wheel and sdist uploaded by twine; returns the index URL."""
    index_url = make_user_and_index(server, user)
    files = [make_wheel(project).write(tmp_path), make_sdist(project).write(tmp_path)]
    result = twine_upload(index_url, user, files, env)
    assert result.returncode == 0, result.stdout + result.stderr
    return index_url


def test_twine_uploads_then_pip_installs(server, tmp_path, client_env, venv_factory):
    project = Project("greeting-pip", "1.0", code="VALUE = 'from idx'\n")
    index_url = published(server, "alice", tmp_path, client_env, project)

    page = simple_page(server, "/alice/dev/+simple/greeting-pip/")
    assert [f["filename"] for f in page["files"]] == [
        "greeting_pip-1.0-py3-none-any.whl",
        "greeting_pip-1.0.tar.gz",
    ]

    venv = venv_factory("pip")
    run_ok([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
            "--index-url", index_url + "+simple/", "greeting-pip"], client_env)  # fmt: skip
    assert imports(venv, "greeting_pip", client_env) == "from idx"


def test_pip_installs_from_the_index_url_without_simple(server, tmp_path, client_env, venv_factory):
    project = Project("greeting-plain", "2.0", code="VALUE = 'plain url'\n")
    index_url = published(server, "bob", tmp_path, client_env, project)
    venv = venv_factory("pip-plain")
    run_ok([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
            "--index-url", index_url, "greeting-plain==2.0"], client_env)  # fmt: skip
    assert imports(venv, "greeting_plain", client_env) == "plain url"


def test_uv_installs(server, tmp_path, client_env, venv_factory):
    project = Project("greeting-uv", "1.5", code="VALUE = 'via uv'\n")
    index_url = published(server, "carol", tmp_path, client_env, project)
    venv = venv_factory("uv")
    run_ok([sys.executable, "-m", "uv", "pip", "install", "--python", str(venv / "bin" / "python"),
            "--index-url", index_url + "+simple/", "greeting-uv"], client_env)  # fmt: skip
    assert imports(venv, "greeting_uv", client_env) == "via uv"


def test_twine_shows_the_servers_refusal(server, tmp_path, client_env):
    index_url = make_user_and_index(server, "dave", volatile=False)
    first = make_wheel(Project("greeting-fixed", "1.0", code="VALUE = 1\n"))
    changed = make_wheel(Project("greeting-fixed", "1.0", code="VALUE = 2\n"))
    assert twine_upload(index_url, "dave", [first.write(tmp_path)], client_env).returncode == 0

    (tmp_path / "changed").mkdir()
    result = twine_upload(index_url, "dave", [changed.write(tmp_path / "changed")], client_env)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # twine wraps long lines
    assert "409" in output
    assert "File already exists: greeting_fixed-1.0-py3-none-any.whl is on dave/dev" in output, output
    assert "Upload a new version instead" in output, output
    page = simple_page(server, "/dave/dev/+simple/greeting-fixed/")
    assert [f["hashes"]["sha256"] for f in page["files"]] == [first.sha256]
    assert re.search(r"POST /dave/dev/ 409 [\d.]+ms", server.log()), "one log line per request"
