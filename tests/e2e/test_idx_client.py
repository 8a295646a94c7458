"""The ``idx`` command against a live idx-server, as a user runs it: from ``idx use`` to
``idx push``, with pip, uv and twine reading what ``idx use --set-cfg`` wrote, and the
bad cases with the one-line messages they give."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fakes.projects import write_project
from fakes.runners import Idx
from idx_server.testing import (
    ROOT_PASSWORD,
    UNREACHABLE_UPSTREAM,
    Project,
    make_sdist,
    make_wheel,
    start_server,
)


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "srv", "--mirror-url", UNREACHABLE_UPSTREAM)
    yield srv
    srv.stop()


@pytest.fixture
def idx(client_env, tmp_path):
    return Idx(client_env, tmp_path)


def installer_env(client_env: dict[str, str]) -> dict[str, str]:
    """client_env without what stops pip and uv from reading their user config files."""
    drop = {"PIP_CONFIG_FILE", "PIP_INDEX_URL", "UV_NO_CONFIG", "UV_INDEX_URL"}
    return {key: value for key, value in client_env.items() if key not in drop}


def setup_alice(idx: Idx, url: str) -> None:
    idx("use", url)
    idx("login", "root", "--password", ROOT_PASSWORD)
    idx("user", "-c", "alice", "password=secret", "email=alice@example.com")
    idx("login", "alice", "--password", "secret")
    idx("index", "-c", "dev", "bases=root/pypi")
    idx("index", "-c", "release", "volatile=False")
    idx("use", "alice/dev")


def test_full_flow(idx, server, tmp_path, client_env, venv_factory):
    url = server.url.rstrip("/")
    shown = idx("use", url).stdout
    assert f"server:     {url}/" in shown
    assert "index:      none" in shown

    assert "logged in as root" in idx("login", "root", "--password", ROOT_PASSWORD).stdout
    assert (
        "user alice created"
        in idx("user", "-c", "alice", "password=secret", "email=alice@example.com").stdout
    )
    assert "alice" in idx("user", "-l").stdout.split()
    assert "logged in as alice" in idx("login", "alice", "--password", "secret").stdout
    created = idx("index", "-c", "dev", "bases=root/pypi").stdout
    assert "index alice/dev created" in created
    assert "bases=root/pypi" in created
    assert "volatile=False" in idx("index", "-c", "release", "volatile=False", "acl_upload=alice").stdout
    assert idx("index", "-l").stdout.split() == ["alice/dev", "alice/release"]
    assert "acl_upload=alice,root" in idx("index", "release", "acl_upload+=root").stdout

    shown = idx("use", "alice/dev").stdout
    assert "index:      alice/dev" in shown
    assert "logged in:  alice" in shown
    assert f"simple URL: {url}/alice/dev/+simple/" in shown
    assert f"upload URL: {url}/alice/dev/" in shown

    # Build the project here and upload sdist and wheel.
    project = write_project(tmp_path / "project", "idx-e2e-hello", "2.0")
    uploaded = idx("upload", cwd=project).stdout
    assert "uploaded idx_e2e_hello-2.0-py3-none-any.whl" in uploaded
    assert "uploaded idx_e2e_hello-2.0.tar.gz" in uploaded

    # Prebuilt files and a directory; --skip-existing compares hashes.
    dist = tmp_path / "dist"
    dist.mkdir()
    make_wheel(Project("idx-e2e-hello", "2.1")).write(dist)
    make_sdist(Project("idx-e2e-hello", "2.1")).write(dist)
    assert "would upload" in idx("upload", "--dry-run", str(dist)).stdout
    assert idx("upload", str(dist)).stdout.count("uploaded ") == 2
    skipped = idx("upload", "--skip-existing", str(dist)).stdout
    assert skipped.count("skipped ") == 2
    assert "same sha256" in skipped

    assert idx("list").stdout.split() == ["idx-e2e-hello"]
    listed = idx("list", "idx-e2e-hello").stdout
    assert "idx-e2e-hello 2.1" in listed
    assert "idx-e2e-hello 2.0" in listed
    assert "idx_e2e_hello-2.0.tar.gz" in listed
    assert "alice/dev" in listed

    # Installers and uploaders configured by --set-cfg.
    configured = idx("use", "--set-cfg").stdout
    assert "pip: wrote index-url" in configured
    assert "uv: wrote" in configured
    assert "twine: wrote" in configured
    env = installer_env(client_env)
    venv = venv_factory("client-flow")
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "idx-e2e-hello==2.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert f"Looking in indexes: {url}/alice/dev/+simple/" in pip.stdout
    assert "Successfully installed idx-e2e-hello-2.0" in pip.stdout
    uv = subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "idx-e2e-hello==2.1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert uv.returncode == 0, uv.stdout + uv.stderr
    assert "+ idx-e2e-hello==2.1" in uv.stderr
    twine_dist = tmp_path / "twine"
    twine_dist.mkdir()
    wheel = make_wheel(Project("idx-e2e-hello", "2.2")).write(twine_dist)
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "-r", "idx", str(wheel)],
        env={**env, "TWINE_PASSWORD": "secret"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    assert "idx-e2e-hello 2.2" in idx("list", "idx-e2e-hello").stdout

    # Yank, unyank, raw JSON, remove.
    assert "yanked" in idx("yank", "idx-e2e-hello==2.0", "--reason", "broken build").stdout
    assert "idx-e2e-hello 2.0  (yanked: broken build)" in idx("list", "idx-e2e-hello", "--all").stdout
    assert "unyanked" in idx("unyank", "idx-e2e-hello==2.0").stdout
    assert '"type": "indexconfig"' in idx("getjson", "/alice/dev").stdout
    removed = idx("remove", "-y", "idx-e2e-hello==2.2").stdout
    assert "idx_e2e_hello-2.2-py3-none-any.whl" in removed
    assert "idx-e2e-hello 2.2" not in idx("list", "idx-e2e-hello").stdout

    assert "logged out alice" in idx("logout").stdout
    assert "not logged in" in idx("use").stdout


def test_push_to_release_index(idx, server, tmp_path):
    """Needs the server's push (POST /{user}/{index}/ with JSON)."""
    setup_alice(idx, server.url)
    dist = tmp_path / "dist"
    dist.mkdir()
    make_wheel(Project("pushme", "1.0")).write(dist)
    make_sdist(Project("pushme", "1.0")).write(dist)
    idx("upload", str(dist))

    pushed = idx("push", "pushme==1.0", "alice/release").stdout
    assert "pushed pushme==1.0 from alice/dev to alice/release" in pushed
    listed = idx("list", "pushme", "--index", "alice/release").stdout
    assert "pushme-1.0-py3-none-any.whl" in listed
    assert "alice/release" in listed

    # Other bytes under the same name on dev (volatile: overwrite allowed); release refuses them.
    changed = tmp_path / "changed"
    changed.mkdir()
    make_wheel(Project("pushme", "1.0", summary="changed")).write(changed)
    idx("upload", str(changed))
    failed = idx("push", "pushme==1.0", "alice/release", status=1)
    assert failed.stderr.startswith("error: push of pushme==1.0 from alice/dev to alice/release failed")
    assert "409" in failed.stderr


def test_bad_cases(idx, server, tmp_path):
    url = server.url.rstrip("/")
    failed = idx("use", "http://127.0.0.1:9", status=1)
    assert failed.stderr.startswith("error: could not connect to http://127.0.0.1:9/+api")
    failed = idx("list", status=1)
    assert failed.stderr == "error: no server in use: run 'idx use URL' first\n"

    setup_alice(idx, url)
    failed = idx("login", "alice", "--password", "wrong", status=1)
    assert failed.stderr == f"error: login of alice at {url}/ failed: invalid user name or password\n"

    failed = idx("use", "alice/nope", status=1)
    assert failed.stderr.startswith("error: index alice/nope does not exist (HTTP 404")
    assert "index:      alice/dev" in idx("use").stdout  # unchanged

    # An existing file with other content on a non-volatile index.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    make_wheel(Project("clash", "1.0")).write(first)
    make_wheel(Project("clash", "1.0", summary="other bytes")).write(second)
    idx("upload", "--index", "alice/release", str(first))
    failed = idx("upload", "--index", "alice/release", str(second), status=1)
    assert failed.stderr.startswith(
        "error: clash-1.0-py3-none-any.whl: upload to alice/release failed: File already exists"
    )
    assert "(HTTP 409 from POST" in failed.stderr
    failed = idx("remove", "-y", "clash", "--index", "alice/release", status=1)
    assert "is not volatile" in failed.stderr
    assert "--force" in failed.stderr

    # No permission: bob may not upload to alice's index or create users.
    idx("login", "root", "--password", ROOT_PASSWORD)
    idx("user", "-c", "bob", "password=bobpw")
    idx("login", "bob", "--password", "bobpw")
    failed = idx("upload", str(first), status=1)
    assert "user 'bob' may not upload to alice/dev (HTTP 403" in failed.stderr
    failed = idx("user", "-c", "carol", "password=x", status=1)
    assert failed.stderr.startswith("error: user 'bob' may not create users (HTTP 403")
    idx("logout")
    failed = idx("index", "-c", "bob/x", status=1)
    assert "authentication required" in failed.stderr
    assert "log in with 'idx login USER'" in failed.stderr

    # Confirmation, usage errors.
    idx("login", "alice", "--password", "secret")
    idx("upload", str(first))
    failed = idx("remove", "clash", status=1)
    assert "pass -y" in failed.stderr
    assert "clash 1.0" in idx("list", "clash").stdout
    assert "expected a release as NAME==VERSION" in idx("push", "clash", "alice/release", status=2).stderr
    assert "invalid choice" in idx("frobnicate", status=2).stderr
    assert "expected key=value" in idx("user", "-m", "alice", "email", status=2).stderr


def test_clientdir_option_and_env(idx, server, tmp_path):
    other = tmp_path / "other-client"
    idx("--clientdir", str(other), "use", server.url)
    assert (other / "current.json").exists()
    assert "no server in use" in idx("use").stdout  # IDX_CLIENTDIR is a different dir
    assert f"server:     {server.url.rstrip('/')}/" in idx("use", "--clientdir", str(other)).stdout
    assert os.environ.get("IDX_CLIENTDIR") != str(other)
