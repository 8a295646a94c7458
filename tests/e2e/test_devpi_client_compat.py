"""devpi-client 7.x, installed from the package registry, against a live idx-server: a
team moving from devpi-server keeps its client and scripts."""

from __future__ import annotations

import json

import pytest
from fakes.runners import Devpi
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
def run_devpi(devpi, client_env, tmp_path):
    return Devpi(devpi, client_env, tmp_path / "devpi-client")


def test_devpi_client_flow(run_devpi, server, tmp_path):
    url = server.url.rstrip("/")
    assert f"using server: {url}/ (not logged in)" in run_devpi("use", url)
    assert "logged in 'root'" in run_devpi("login", "root", "--password", ROOT_PASSWORD)
    assert "user created: alice" in run_devpi(
        "user", "-c", "alice", "password=secret", "email=alice@example.com"
    )
    assert "alice" in run_devpi("user", "-l").split()
    assert "logged in 'alice'" in run_devpi("login", "alice", "--password", "secret")
    created = run_devpi("index", "-c", "dev", "bases=root/pypi")
    assert "type=stage" in created
    assert "bases=root/pypi" in created
    assert "volatile=False" in run_devpi("index", "-c", "release", "volatile=False")
    assert "bases=root/pypi,alice/release" in run_devpi("index", "dev", "bases+=alice/release")
    assert run_devpi("index", "-l").split() == ["alice/dev", "alice/release"]
    assert f"current devpi index: {url}/alice/dev/ (logged in as alice)" in run_devpi("use", "alice/dev")
    assert "alice/release" in run_devpi("use", "-l")

    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = make_wheel(Project("compat-pkg", "1.0")).write(dist)
    sdist = make_sdist(Project("compat-pkg", "1.0")).write(dist)
    uploaded = run_devpi("upload", str(wheel), str(sdist))
    assert f"file_upload of {wheel.name} to {url}/alice/dev/" in uploaded
    make_wheel(Project("compat-pkg", "1.1")).write(dist)
    run_devpi("upload", "--from-dir", str(dist))

    assert run_devpi("list").split() == ["compat-pkg"]
    listed = run_devpi("list", "compat-pkg").split()
    assert any(line.startswith(f"{url}/alice/dev/+f/") and line.endswith(wheel.name) for line in listed)
    assert "compat-pkg==1.1" in run_devpi("list", "-v")

    data = json.loads(run_devpi("getjson", "/alice/dev"))
    assert data["type"] == "indexconfig"
    assert data["result"]["projects"] == ["compat-pkg"]
    versions = json.loads(run_devpi("getjson", "compat-pkg"))["result"]
    assert sorted(versions) == ["1.0", "1.1"]

    pushed = run_devpi("push", "compat-pkg==1.0", "alice/release")
    assert "200 register compat-pkg 1.0 -> alice/release" in pushed
    assert "store_releasefile" in pushed

    removed = run_devpi("remove", "-y", "compat-pkg==1.1")
    assert "deleting release 1.1 of compat-pkg" in removed
    assert "1.1" not in json.loads(run_devpi("getjson", "compat-pkg?ignore_bases"))["result"]
    run_devpi("remove", "-y", "compat-pkg")
    assert run_devpi("list").split() == []

    failed = run_devpi("use", "alice/nope", status=1)
    assert "404" in failed
    assert "index alice/nope does not exist" in failed
    failed = run_devpi("login", "alice", "--password", "wrong", status=1)
    assert "401" in failed
    assert "invalid user name or password" in failed
    assert "login information deleted" in run_devpi("logout")


def test_devpi_user_modify(run_devpi, server):
    """``devpi user -m`` (and ``devpi passwd``) PATCH back the whole userconfig they GET,
    minus ``indexes`` and ``username``."""
    run_devpi("use", server.url)
    run_devpi("login", "root", "--password", ROOT_PASSWORD)
    run_devpi("user", "-c", "alice", "password=secret", "email=alice@example.com")
    run_devpi("login", "alice", "--password", "secret")
    run_devpi("user", "-m", "alice", "email=alice@example.org")
    assert "email=alice@example.org" in run_devpi("user", "alice")
